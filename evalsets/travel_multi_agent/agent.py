"""Travel agency: a coordinator that delegates to flight, hotel and activity specialists.

The root agent answers general questions itself, checks travel advisories with its own tool, and
hands over to a sub-agent (ADK's `transfer_to_agent`) for flights, hotels or things to do. Each
sub-agent has its own tools. All data is local and fixed, so tools are deterministic. `bench`
replaces every agent's `model` with LiteLLM pointed at the vLLM server.
"""

from __future__ import annotations

from typing import Literal

from google.adk.agents import LlmAgent

Cabin = Literal["economy", "premium_economy", "business"]
Category = Literal["museum", "food", "outdoors", "nightlife"]

_FLIGHTS = {
    ("LHR", "CDG"): [("BA304", "07:15", 120.0), ("AF1081", "12:40", 95.0)],
    ("CDG", "FCO"): [("AZ317", "09:05", 140.0)],
    ("JFK", "LHR"): [("BA178", "19:30", 610.0), ("VS4", "21:00", 580.0)],
    ("MAD", "LIS"): [("TP1015", "08:20", 70.0)],
}
_HOTELS = {
    "paris": [("H-PAR-1", "Hotel Lumiere", 180.0, 4.5), ("H-PAR-2", "Petit Nord", 95.0, 4.0)],
    "rome": [("H-ROM-1", "Albergo Sole", 130.0, 4.3)],
    "london": [("H-LON-1", "Thames View", 210.0, 4.6), ("H-LON-2", "Camden Rooms", 110.0, 3.9)],
    "lisbon": [("H-LIS-1", "Casa Alfama", 90.0, 4.7)],
}
_ACTIVITIES = {
    ("paris", "museum"): ["Louvre", "Musee d'Orsay"],
    ("paris", "food"): ["Marche des Enfants Rouges food tour"],
    ("rome", "outdoors"): ["Appian Way bike ride"],
    ("lisbon", "food"): ["Pasteis tasting in Belem"],
    ("london", "nightlife"): ["West End show"],
}
_ADVISORIES = {
    "france": "No special advisory. Carry ID.",
    "italy": "No special advisory.",
    "portugal": "No special advisory.",
    "united kingdom": "Electronic travel authorisation required for many visitors.",
}
_CABIN_FACTOR = {"economy": 1.0, "premium_economy": 1.6, "business": 3.2}


def get_travel_advisory(country: str) -> dict:
    """Returns the current travel advisory and entry requirements for a country.

    Args:
        country: The country's English name, e.g. "France".
    """
    advisory = _ADVISORIES.get(country.strip().lower())
    if advisory is None:
        return {"status": "error", "error_message": f"No advisory for {country}."}
    return {"status": "success", "country": country, "advisory": advisory}


def search_flights(
    origin: str, destination: str, date: str, passengers: int = 1, cabin: Cabin = "economy"
) -> dict:
    """Searches direct flights between two airports on a date.

    Args:
        origin: IATA code of the departure airport, e.g. "LHR".
        destination: IATA code of the arrival airport, e.g. "CDG".
        date: Departure date as YYYY-MM-DD.
        passengers: Number of passengers (default 1).
        cabin: "economy" (default), "premium_economy" or "business".
    """
    options = _FLIGHTS.get((origin.upper(), destination.upper()), [])
    flights = [
        {
            "flight_id": f"{fid}-{date}",
            "departs": dep,
            "total_price": round(price * _CABIN_FACTOR[cabin] * passengers, 2),
        }
        for fid, dep, price in options
    ]
    return {"status": "success", "flights": flights}


def book_flight(flight_id: str, passengers: int) -> dict:
    """Books seats on a flight found with search_flights.

    Args:
        flight_id: The flight_id from search_flights, e.g. "BA304-2025-06-01".
        passengers: Number of seats to book.
    """
    return {"status": "success", "booking_ref": f"FL-{flight_id}-{passengers}"}


def search_hotels(
    city: str, check_in: str, nights: int, max_price_per_night: float | None = None
) -> dict:
    """Searches hotels in a city for a stay.

    Args:
        city: The city, e.g. "Paris".
        check_in: Check-in date as YYYY-MM-DD.
        nights: Number of nights.
        max_price_per_night: Highest acceptable price per night in euros. Omit for any price.
    """
    hotels = [
        {
            "hotel_id": hid,
            "name": name,
            "price_per_night": price,
            "rating": rating,
            "total_price": price * nights,
        }
        for hid, name, price, rating in _HOTELS.get(city.strip().lower(), [])
        if max_price_per_night is None or price <= max_price_per_night
    ]
    return {"status": "success", "check_in": check_in, "hotels": hotels}


def book_hotel(hotel_id: str, check_in: str, nights: int) -> dict:
    """Books a room in a hotel found with search_hotels.

    Args:
        hotel_id: The hotel_id from search_hotels, e.g. "H-PAR-2".
        check_in: Check-in date as YYYY-MM-DD.
        nights: Number of nights.
    """
    return {"status": "success", "booking_ref": f"HT-{hotel_id}-{check_in}-{nights}"}


def find_activities(city: str, category: Category) -> dict:
    """Suggests things to do in a city.

    Args:
        city: The city, e.g. "Rome".
        category: "museum", "food", "outdoors" or "nightlife".
    """
    found = _ACTIVITIES.get((city.strip().lower(), category), [])
    return {"status": "success", "city": city, "activities": found}


flights_agent = LlmAgent(
    name="flights_agent",
    model="gemini-2.5-flash",
    description="Searches and books flights.",
    instruction=(
        "You search and book flights. Use IATA airport codes (London Heathrow LHR, Paris CDG, "
        "Rome FCO, New York JFK, Madrid MAD, Lisbon LIS) and dates as YYYY-MM-DD. Book only "
        "after the user picked a flight. For anything that is not about flights, transfer back "
        "to travel_coordinator."
    ),
    tools=[search_flights, book_flight],
)
hotels_agent = LlmAgent(
    name="hotels_agent",
    model="gemini-2.5-flash",
    description="Searches and books hotels.",
    instruction=(
        "You search and book hotels. Dates are YYYY-MM-DD. Book only after the user picked a "
        "hotel. For anything that is not about hotels, transfer back to travel_coordinator."
    ),
    tools=[search_hotels, book_hotel],
)
activities_agent = LlmAgent(
    name="activities_agent",
    model="gemini-2.5-flash",
    description="Suggests museums, food, outdoor activities and nightlife in a city.",
    instruction=(
        "You suggest things to do with find_activities. For anything else, transfer back to "
        "travel_coordinator."
    ),
    tools=[find_activities],
)

root_agent = LlmAgent(
    name="travel_coordinator",
    model="gemini-2.5-flash",
    description="Plans trips by delegating to flight, hotel and activity specialists.",
    instruction=(
        "You coordinate trip planning. Transfer to flights_agent for flights, to hotels_agent "
        "for hotels and to activities_agent for things to do. Check entry rules yourself with "
        "get_travel_advisory. Answer greetings and general questions about what you can do "
        "without calling a tool."
    ),
    tools=[get_travel_advisory],
    sub_agents=[flights_agent, hotels_agent, activities_agent],
)
