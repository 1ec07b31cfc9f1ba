"""Home automation agent: lights, thermostats and locks whose state lives in the ADK session.

Every tool reads and writes `tool_context.state["devices"]`, so what one turn changes the next
turn sees (and an eval case can start from any house through `session_input.state`). Tools are
local and deterministic. `bench` replaces `model` with LiteLLM pointed at the vLLM server.
"""

from __future__ import annotations

import copy
from typing import Literal

from google.adk.agents import LlmAgent
from google.adk.tools.tool_context import ToolContext

ThermostatMode = Literal["heat", "cool", "auto", "off"]
Scene = Literal["good_night", "movie", "away"]

DEFAULT_DEVICES: dict[str, dict] = {
    "living_room_lamp": {"kind": "light", "room": "living room", "on": False, "brightness": 80},
    "living_room_ceiling": {"kind": "light", "room": "living room", "on": True, "brightness": 100},
    "kitchen_light": {"kind": "light", "room": "kitchen", "on": False, "brightness": 100},
    "bedroom_light": {"kind": "light", "room": "bedroom", "on": True, "brightness": 40},
    "hallway_thermostat": {
        "kind": "thermostat",
        "room": "hallway",
        "target_c": 20.0,
        "mode": "auto",
    },
    "bedroom_thermostat": {
        "kind": "thermostat",
        "room": "bedroom",
        "target_c": 18.5,
        "mode": "heat",
    },
    "front_door": {"kind": "lock", "room": "entrance", "locked": True},
    "back_door": {"kind": "lock", "room": "garden", "locked": False},
}


def _devices(tool_context: ToolContext) -> dict[str, dict]:
    devices = tool_context.state.get("devices")
    if not isinstance(devices, dict):
        devices = copy.deepcopy(DEFAULT_DEVICES)
    return devices


def _save(tool_context: ToolContext, devices: dict[str, dict]) -> None:
    tool_context.state["devices"] = devices  # a new value, so ADK records the state change


def _device(devices: dict[str, dict], device_id: str, kind: str) -> dict | str:
    device = devices.get(device_id)
    if device is None:
        return f"No device with id {device_id!r}. Call list_devices to see the ids."
    if device["kind"] != kind:
        return f"{device_id} is a {device['kind']}, not a {kind}."
    return device


def list_devices(tool_context: ToolContext, room: str | None = None) -> dict:
    """Lists the devices in the home with their ids and current state.

    Args:
        room: Only devices in this room, e.g. "kitchen" or "living room". Omit for every room.
    """
    devices = _devices(tool_context)
    found = {
        device_id: device
        for device_id, device in sorted(devices.items())
        if room is None or device["room"] == room.strip().lower()
    }
    return {"status": "success", "devices": found}


def get_device_state(device_id: str, tool_context: ToolContext) -> dict:
    """Returns the current state of one device.

    Args:
        device_id: The device id, e.g. "kitchen_light" (see list_devices).
    """
    device = _devices(tool_context).get(device_id)
    if device is None:
        return {"status": "error", "error_message": f"No device with id {device_id!r}."}
    return {"status": "success", "device_id": device_id, "state": device}


def set_light(
    device_id: str, on: bool, tool_context: ToolContext, brightness: int | None = None
) -> dict:
    """Switches a light on or off and optionally sets its brightness.

    Args:
        device_id: The light's id, e.g. "bedroom_light".
        on: True to switch the light on, False to switch it off.
        brightness: Brightness in percent, 1 to 100. Omit to keep the current brightness.
    """
    devices = _devices(tool_context)
    light = _device(devices, device_id, "light")
    if isinstance(light, str):
        return {"status": "error", "error_message": light}
    if brightness is not None and not 1 <= brightness <= 100:
        return {"status": "error", "error_message": "brightness must be between 1 and 100"}
    light["on"] = on
    if brightness is not None:
        light["brightness"] = brightness
    _save(tool_context, devices)
    return {"status": "success", "device_id": device_id, "state": light}


def set_thermostat(
    device_id: str, target_c: float, mode: ThermostatMode, tool_context: ToolContext
) -> dict:
    """Sets a thermostat's target temperature and mode.

    Args:
        device_id: The thermostat's id, e.g. "hallway_thermostat".
        target_c: Target temperature in degrees Celsius, 10 to 30.
        mode: "heat", "cool", "auto" or "off".
    """
    devices = _devices(tool_context)
    thermostat = _device(devices, device_id, "thermostat")
    if isinstance(thermostat, str):
        return {"status": "error", "error_message": thermostat}
    if not 10 <= target_c <= 30:
        return {"status": "error", "error_message": "target_c must be between 10 and 30"}
    thermostat["target_c"] = float(target_c)
    thermostat["mode"] = mode
    _save(tool_context, devices)
    return {"status": "success", "device_id": device_id, "state": thermostat}


def set_lock(device_id: str, locked: bool, tool_context: ToolContext) -> dict:
    """Locks or unlocks a door.

    Args:
        device_id: The lock's id, e.g. "front_door".
        locked: True to lock, False to unlock.
    """
    devices = _devices(tool_context)
    lock = _device(devices, device_id, "lock")
    if isinstance(lock, str):
        return {"status": "error", "error_message": lock}
    lock["locked"] = locked
    _save(tool_context, devices)
    return {"status": "success", "device_id": device_id, "state": lock}


def run_scene(scene: Scene, tool_context: ToolContext) -> dict:
    """Runs a preset scene that changes several devices at once.

    Args:
        scene: "good_night" (all lights off, doors locked, bedroom 18 C heat),
            "movie" (living room lamp on at 20 percent, ceiling light off),
            or "away" (all lights off, doors locked, thermostats off).
    """
    devices = _devices(tool_context)
    for device in devices.values():
        if scene in ("good_night", "away") and device["kind"] == "light":
            device["on"] = False
        if scene in ("good_night", "away") and device["kind"] == "lock":
            device["locked"] = True
        if scene == "away" and device["kind"] == "thermostat":
            device["mode"] = "off"
    if scene == "good_night" and "bedroom_thermostat" in devices:
        devices["bedroom_thermostat"].update(target_c=18.0, mode="heat")
    if scene == "movie":
        if "living_room_lamp" in devices:
            devices["living_room_lamp"].update(on=True, brightness=20)
        if "living_room_ceiling" in devices:
            devices["living_room_ceiling"]["on"] = False
    _save(tool_context, devices)
    return {"status": "success", "scene": scene, "devices": devices}


root_agent = LlmAgent(
    name="home_automation_agent",
    model="gemini-2.5-flash",
    description="Controls the lights, thermostats and door locks of a home.",
    instruction=(
        "You control a smart home. Device ids look like 'kitchen_light'. When the user names a "
        "room or device you do not know the id of, call list_devices for that room first, then "
        "act on the id it returns. Remember what you changed earlier in the conversation: "
        "'it' or 'that light' means the device you last talked about. Use run_scene for "
        "'good night', 'movie time' or 'I am leaving'. Only unlock a door when the user asks "
        "for it explicitly. Answer general questions without calling a tool."
    ),
    tools=[list_devices, get_device_state, set_light, set_thermostat, set_lock, run_scene],
)
