"""Unit conversion agent: numeric arguments and units chosen from fixed sets (Literal and Enum).

Tools are local and deterministic (exact factors). `bench` replaces `model` with LiteLLM
pointed at the vLLM server.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from google.adk.agents import LlmAgent

LengthUnit = Literal["mm", "cm", "m", "km", "in", "ft", "yd", "mi"]
MassUnit = Literal["g", "kg", "oz", "lb"]
TemperatureScale = Literal["C", "F", "K"]


class VolumeUnit(StrEnum):
    MILLILITRE = "ml"
    LITRE = "l"
    US_CUP = "cup"
    US_FLUID_OUNCE = "fl_oz"
    US_GALLON = "gal"


_LENGTH_M = {
    "mm": 0.001,
    "cm": 0.01,
    "m": 1.0,
    "km": 1000.0,
    "in": 0.0254,
    "ft": 0.3048,
    "yd": 0.9144,
    "mi": 1609.344,
}
_MASS_G = {"g": 1.0, "kg": 1000.0, "oz": 28.349523125, "lb": 453.59237}
_VOLUME_ML = {
    "ml": 1.0,
    "l": 1000.0,
    "cup": 236.5882365,
    "fl_oz": 29.5735295625,
    "gal": 3785.411784,
}


def _result(value: float, unit: str, decimals: int) -> dict:
    return {"status": "success", "value": round(value, decimals), "unit": unit}


def convert_length(
    value: float, from_unit: LengthUnit, to_unit: LengthUnit, decimals: int = 2
) -> dict:
    """Converts a length between metric and imperial units.

    Args:
        value: The length to convert, e.g. 5.5.
        from_unit: Unit of value: "mm", "cm", "m", "km", "in", "ft", "yd" or "mi".
        to_unit: Unit to convert to, one of the same units.
        decimals: Decimal places of the result (default 2).
    """
    return _result(value * _LENGTH_M[from_unit] / _LENGTH_M[to_unit], to_unit, decimals)


def convert_mass(value: float, from_unit: MassUnit, to_unit: MassUnit, decimals: int = 2) -> dict:
    """Converts a mass (weight) between grams, kilograms, ounces and pounds.

    Args:
        value: The mass to convert, e.g. 250.
        from_unit: Unit of value: "g", "kg", "oz" or "lb".
        to_unit: Unit to convert to, one of the same units.
        decimals: Decimal places of the result (default 2).
    """
    return _result(value * _MASS_G[from_unit] / _MASS_G[to_unit], to_unit, decimals)


def convert_temperature(
    value: float, from_scale: TemperatureScale, to_scale: TemperatureScale, decimals: int = 1
) -> dict:
    """Converts a temperature between Celsius, Fahrenheit and Kelvin.

    Args:
        value: The temperature to convert, e.g. 98.6.
        from_scale: "C", "F" or "K".
        to_scale: "C", "F" or "K".
        decimals: Decimal places of the result (default 1).
    """
    celsius = {"C": value, "F": (value - 32) * 5 / 9, "K": value - 273.15}[from_scale]
    out = {"C": celsius, "F": celsius * 9 / 5 + 32, "K": celsius + 273.15}[to_scale]
    return _result(out, to_scale, decimals)


def convert_volume(
    value: float, from_unit: VolumeUnit, to_unit: VolumeUnit, decimals: int = 2
) -> dict:
    """Converts a volume between millilitres, litres and US cups, fluid ounces and gallons.

    Args:
        value: The volume to convert, e.g. 2.
        from_unit: "ml", "l", "cup", "fl_oz" or "gal".
        to_unit: Unit to convert to, one of the same units.
        decimals: Decimal places of the result (default 2).
    """
    src, dst = VolumeUnit(from_unit).value, VolumeUnit(to_unit).value
    return _result(value * _VOLUME_ML[src] / _VOLUME_ML[dst], dst, decimals)


root_agent = LlmAgent(
    name="unit_conversion_agent",
    model="gemini-2.5-flash",
    description="Converts lengths, masses, temperatures and volumes between units.",
    instruction=(
        "You convert quantities between units with the conversion tools; never compute a "
        "conversion yourself. Pass the number as value and the units by their short codes "
        "(e.g. 'km', 'mi', 'lb', 'F', 'cup'). Pass decimals only when the user asks for a "
        "precision. Several conversions in one message need one call each, in the order asked. "
        "Explain units or answer greetings without calling a tool."
    ),
    tools=[convert_length, convert_mass, convert_temperature, convert_volume],
)
