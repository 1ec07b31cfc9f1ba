"""Writes the shipped eval sets (except weather_time) through ADK's own pydantic models.

The cases below are the source; the `*.evalset.json` files are generated from them:

    .venv/bin/python evalsets/build_evalsets.py

Each turn is (user text, expected tool calls in order, reference answer). Expected calls follow
the agent's instruction literally, so a model that follows it scores 1.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.adk.evaluation.eval_case import EvalCase, IntermediateData, Invocation, SessionInput
from google.adk.evaluation.eval_set import EvalSet
from google.genai import types

HERE = Path(__file__).resolve().parent
Call = tuple[str, dict[str, Any]]
Turn = tuple[str, list[Call], str]


def case(
    eval_id: str, app: str, turns: list[Turn], state: dict[str, Any] | None = None
) -> EvalCase:
    conversation = [
        Invocation(
            invocation_id=f"{eval_id}-{n}",
            user_content=types.Content(role="user", parts=[types.Part(text=text)]),
            final_response=types.Content(role="model", parts=[types.Part(text=reference)]),
            intermediate_data=IntermediateData(
                tool_uses=[types.FunctionCall(name=name, args=args) for name, args in calls]
            ),
        )
        for n, (text, calls, reference) in enumerate(turns, 1)
    ]
    return EvalCase(
        eval_id=eval_id,
        conversation=conversation,
        session_input=SessionInput(app_name=app, user_id="bench_user", state=state or {}),
    )


def write(name: str, description: str, cases: list[EvalCase]) -> None:
    ids = [c.eval_id for c in cases]
    assert len(ids) == len(set(ids)), f"{name}: duplicate case ids"
    assert 10 <= len(cases) <= 30, f"{name}: {len(cases)} cases"
    eval_set = EvalSet(eval_set_id=name, name=name, description=description, eval_cases=cases)
    path = HERE / name / f"{name}.evalset.json"
    path.write_text(eval_set.model_dump_json(indent=2, exclude_none=True) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {len(cases)} cases")


# --------------------------------------------------------------------------- home_automation

HOME = "home_automation"


def home_cases() -> list[EvalCase]:
    h = HOME
    return [
        case(
            "kitchen_light_on",
            h,
            [
                (
                    "Turn on the kitchen light.",
                    [("set_light", {"device_id": "kitchen_light", "on": True})],
                    "The kitchen light is on.",
                ),
            ],
        ),
        case(
            "bedroom_light_off",
            h,
            [
                (
                    "Switch off bedroom_light please.",
                    [("set_light", {"device_id": "bedroom_light", "on": False})],
                    "The bedroom light is off.",
                ),
            ],
        ),
        case(
            "dim_lamp_then_off",
            h,
            [
                (
                    "Set living_room_lamp to 30 percent.",
                    [
                        (
                            "set_light",
                            {"device_id": "living_room_lamp", "on": True, "brightness": 30},
                        )
                    ],
                    "The living room lamp is on at 30 percent.",
                ),
                (
                    "Actually, turn it off.",
                    [("set_light", {"device_id": "living_room_lamp", "on": False})],
                    "The living room lamp is off.",
                ),
            ],
        ),
        case(
            "find_then_switch",
            h,
            [
                (
                    "Which lights are in the living room?",
                    [("list_devices", {"room": "living room"})],
                    "The living room has living_room_lamp and living_room_ceiling.",
                ),
                (
                    "Turn the ceiling one off.",
                    [("set_light", {"device_id": "living_room_ceiling", "on": False})],
                    "The living room ceiling light is off.",
                ),
            ],
        ),
        case(
            "garden_door_lookup_and_lock",
            h,
            [
                (
                    "Lock the door to the garden.",
                    [
                        ("list_devices", {"room": "garden"}),
                        ("set_lock", {"device_id": "back_door", "locked": True}),
                    ],
                    "The back door to the garden is locked.",
                ),
            ],
        ),
        case(
            "thermostat_heat",
            h,
            [
                (
                    "Set hallway_thermostat to 21.5 degrees on heat.",
                    [
                        (
                            "set_thermostat",
                            {"device_id": "hallway_thermostat", "target_c": 21.5, "mode": "heat"},
                        )
                    ],
                    "The hallway thermostat is heating to 21.5 C.",
                ),
            ],
        ),
        case(
            "thermostat_check_then_raise",
            h,
            [
                (
                    "What is bedroom_thermostat set to?",
                    [("get_device_state", {"device_id": "bedroom_thermostat"})],
                    "The bedroom thermostat is set to 18.5 C on heat.",
                ),
                (
                    "Make it one degree warmer, same mode.",
                    [
                        (
                            "set_thermostat",
                            {"device_id": "bedroom_thermostat", "target_c": 19.5, "mode": "heat"},
                        )
                    ],
                    "The bedroom thermostat is now set to 19.5 C on heat.",
                ),
            ],
        ),
        case(
            "state_from_session",
            h,
            [
                (
                    "Is the front door locked?",
                    [("get_device_state", {"device_id": "front_door"})],
                    "No, the front door is unlocked.",
                ),
                (
                    "Lock it.",
                    [("set_lock", {"device_id": "front_door", "locked": True})],
                    "The front door is locked now.",
                ),
            ],
            state={
                "devices": {
                    "front_door": {"kind": "lock", "room": "entrance", "locked": False},
                    "hall_light": {
                        "kind": "light",
                        "room": "hallway",
                        "on": True,
                        "brightness": 60,
                    },
                }
            },
        ),
        case(
            "good_night_scene",
            h,
            [
                (
                    "Good night! Set up the house for sleeping.",
                    [("run_scene", {"scene": "good_night"})],
                    "Good night: lights are off, doors are locked and the bedroom is at 18 C.",
                ),
            ],
        ),
        case(
            "movie_then_lamp_brighter",
            h,
            [
                (
                    "Movie time!",
                    [("run_scene", {"scene": "movie"})],
                    "Movie scene on: the lamp is at 20 percent and the ceiling light is off.",
                ),
                (
                    "Too dark, put the lamp at 40.",
                    [
                        (
                            "set_light",
                            {"device_id": "living_room_lamp", "on": True, "brightness": 40},
                        )
                    ],
                    "The living room lamp is at 40 percent.",
                ),
            ],
        ),
        case(
            "leaving_home",
            h,
            [
                (
                    "I'm leaving for the weekend.",
                    [("run_scene", {"scene": "away"})],
                    "Away mode: lights off, doors locked, thermostats off.",
                ),
            ],
        ),
        case(
            "all_devices_overview",
            h,
            [
                (
                    "Give me an overview of every device in the house.",
                    [("list_devices", {})],
                    "Here are all the devices and their state.",
                ),
            ],
        ),
        case(
            "three_turn_kitchen",
            h,
            [
                (
                    "Turn on kitchen_light.",
                    [("set_light", {"device_id": "kitchen_light", "on": True})],
                    "The kitchen light is on.",
                ),
                (
                    "Dim it to 50.",
                    [("set_light", {"device_id": "kitchen_light", "on": True, "brightness": 50})],
                    "The kitchen light is at 50 percent.",
                ),
                (
                    "Is it still on?",
                    [("get_device_state", {"device_id": "kitchen_light"})],
                    "Yes, the kitchen light is on at 50 percent.",
                ),
            ],
        ),
        case(
            "what_can_you_do",
            h,
            [
                (
                    "What kinds of devices can you control?",
                    [],
                    "I can control lights, thermostats and door locks, and run scenes.",
                ),
            ],
        ),
        case(
            "energy_tip_no_tool",
            h,
            [
                (
                    "Any tips to save energy on heating?",
                    [],
                    "Lower the target temperature by a degree and turn heating off when you are away.",
                ),
            ],
        ),
    ]


# --------------------------------------------------------------------------- customer_support

SUPPORT = "customer_support_orders"


def support_cases() -> list[EvalCase]:
    s = SUPPORT
    return [
        case(
            "orders_by_email",
            s,
            [
                (
                    "Hi, I'm ana@example.com. Can you list my orders?",
                    [
                        ("lookup_customer", {"email": "ana@example.com"}),
                        ("list_orders", {"customer_id": "C-100"}),
                    ],
                    "You have two orders: A-1002 (shipped) and A-1001 (delivered).",
                ),
            ],
        ),
        case(
            "delivered_orders_only",
            s,
            [
                (
                    "Which of my delivered orders are there? My email is ben@example.com.",
                    [
                        ("lookup_customer", {"email": "ben@example.com"}),
                        ("list_orders", {"customer_id": "C-200", "status": "delivered"}),
                    ],
                    "Your delivered order is B-2001.",
                ),
            ],
        ),
        case(
            "where_is_my_order",
            s,
            [
                (
                    "Where is my order A-1002?",
                    [
                        ("get_order", {"order_id": "A-1002"}),
                        ("track_shipment", {"tracking_number": "TRK-555002"}),
                    ],
                    "Order A-1002 is in transit with DHL at the Madrid hub, expected in 2 days.",
                ),
            ],
        ),
        case(
            "order_details",
            s,
            [
                (
                    "What was in order C-3001?",
                    [("get_order", {"order_id": "C-3001"})],
                    "Order C-3001 contains 4 plates, 64 euros in total.",
                ),
            ],
        ),
        case(
            "refund_within_window",
            s,
            [
                (
                    "The tea in order A-1001 was stale, please refund the 18 euros for it.",
                    [
                        ("get_order", {"order_id": "A-1001"}),
                        (
                            "issue_refund",
                            {"order_id": "A-1001", "amount": 18.0, "reason": "stale tea"},
                        ),
                    ],
                    "I have refunded 18 euros for order A-1001.",
                ),
            ],
        ),
        case(
            "refund_refused_outside_window",
            s,
            [
                (
                    "I want a refund for order B-2001, the boots are too small.",
                    [("get_order", {"order_id": "B-2001"})],
                    "Order B-2001 was delivered 45 days ago, beyond our 30-day refund window, so I "
                    "cannot refund it.",
                ),
            ],
        ),
        case(
            "refund_refused_not_delivered",
            s,
            [
                (
                    "Refund order B-2002 now.",
                    [("get_order", {"order_id": "B-2002"})],
                    "Order B-2002 has not been delivered yet, so it cannot be refunded; I can help "
                    "with something else.",
                ),
            ],
        ),
        case(
            "refund_capped_at_total",
            s,
            [
                (
                    "Refund 100 euros on order C-3001.",
                    [("get_order", {"order_id": "C-3001"})],
                    "The order total is 64 euros, so I cannot refund 100 euros.",
                ),
            ],
        ),
        case(
            "return_two_items",
            s,
            [
                (
                    "I'd like to return both mugs and one tea from order A-1001, I don't need them.",
                    [
                        ("get_order", {"order_id": "A-1001"}),
                        (
                            "create_return",
                            {
                                "order_id": "A-1001",
                                "items": [
                                    {"sku": "MUG-01", "quantity": 2},
                                    {"sku": "TEA-07", "quantity": 1},
                                ],
                                "reason": "not_needed",
                            },
                        ),
                    ],
                    "Your return RET-A-1001-3 is open.",
                ),
            ],
        ),
        case(
            "return_damaged_plates",
            s,
            [
                (
                    "Two plates from order C-3001 arrived broken, I want to send them back.",
                    [
                        ("get_order", {"order_id": "C-3001"}),
                        (
                            "create_return",
                            {
                                "order_id": "C-3001",
                                "items": [{"sku": "PLATE-2", "quantity": 2}],
                                "reason": "damaged",
                            },
                        ),
                    ],
                    "Your return RET-C-3001-2 for two damaged plates is open.",
                ),
            ],
        ),
        case(
            "change_address",
            s,
            [
                (
                    "Please ship order B-2002 to Hauptstrasse 5, 10115 Berlin, Germany instead.",
                    [
                        (
                            "update_shipping_address",
                            {
                                "order_id": "B-2002",
                                "address": {
                                    "street": "Hauptstrasse 5",
                                    "city": "Berlin",
                                    "postal_code": "10115",
                                    "country": "DE",
                                },
                            },
                        )
                    ],
                    "Order B-2002 will now be delivered to Hauptstrasse 5, 10115 Berlin.",
                ),
            ],
        ),
        case(
            "lookup_then_track_two_turns",
            s,
            [
                (
                    "My email is chloe@example.com, what have I ordered?",
                    [
                        ("lookup_customer", {"email": "chloe@example.com"}),
                        ("list_orders", {"customer_id": "C-300"}),
                    ],
                    "You have one order, C-3001, delivered.",
                ),
                (
                    "Where is it now?",
                    [
                        ("get_order", {"order_id": "C-3001"}),
                        ("track_shipment", {"tracking_number": "TRK-777001"}),
                    ],
                    "Order C-3001 was delivered in Lyon by La Poste.",
                ),
            ],
        ),
        case(
            "details_then_refund_two_turns",
            s,
            [
                (
                    "What's the total of order A-1001?",
                    [("get_order", {"order_id": "A-1001"})],
                    "Order A-1001 totals 42 euros.",
                ),
                (
                    "One mug was chipped, refund 12 euros please.",
                    [
                        ("get_order", {"order_id": "A-1001"}),
                        (
                            "issue_refund",
                            {"order_id": "A-1001", "amount": 12.0, "reason": "chipped mug"},
                        ),
                    ],
                    "I have refunded 12 euros for order A-1001.",
                ),
            ],
        ),
        case(
            "opening_hours",
            s,
            [
                (
                    "When is your support open?",
                    [],
                    "Our support is open 9:00 to 17:00, Monday to Friday.",
                ),
            ],
        ),
        case(
            "refund_policy_question",
            s,
            [
                (
                    "How long do I have to ask for a refund?",
                    [],
                    "Delivered orders can be refunded within 30 days of delivery.",
                ),
            ],
        ),
    ]


# --------------------------------------------------------------------------- unit_conversion

UNITS = "unit_conversion"


def unit_cases() -> list[EvalCase]:
    u = UNITS

    def conv(tool: str, value: float, a: str, b: str, **extra: Any) -> Call:
        keys = (
            ("from_scale", "to_scale")
            if tool == "convert_temperature"
            else ("from_unit", "to_unit")
        )
        return (tool, {"value": value, keys[0]: a, keys[1]: b, **extra})

    return [
        case(
            "km_to_miles",
            u,
            [
                (
                    "How many miles is 10 km?",
                    [conv("convert_length", 10, "km", "mi")],
                    "10 km is 6.21 miles.",
                )
            ],
        ),
        case(
            "feet_to_metres",
            u,
            [
                (
                    "Convert 6.5 ft to metres.",
                    [conv("convert_length", 6.5, "ft", "m")],
                    "6.5 ft is 1.98 m.",
                )
            ],
        ),
        case(
            "inches_to_cm_precise",
            u,
            [
                (
                    "What is 3 inches in centimetres, to 3 decimal places?",
                    [conv("convert_length", 3, "in", "cm", decimals=3)],
                    "3 inches is 7.620 cm.",
                )
            ],
        ),
        case(
            "marathon_km",
            u,
            [
                (
                    "A marathon is 26.2 miles. How many kilometres is that?",
                    [conv("convert_length", 26.2, "mi", "km")],
                    "26.2 miles is 42.16 km.",
                )
            ],
        ),
        case(
            "pounds_to_kg",
            u,
            [
                (
                    "I weigh 154 lb, what's that in kg?",
                    [conv("convert_mass", 154, "lb", "kg")],
                    "154 lb is 69.85 kg.",
                )
            ],
        ),
        case(
            "grams_to_ounces",
            u,
            [
                (
                    "250 g of flour in ounces?",
                    [conv("convert_mass", 250, "g", "oz")],
                    "250 g is 8.82 oz.",
                )
            ],
        ),
        case(
            "body_temperature",
            u,
            [
                (
                    "Is 98.6 F normal? What is it in Celsius?",
                    [conv("convert_temperature", 98.6, "F", "C")],
                    "98.6 F is 37.0 C, a normal body temperature.",
                )
            ],
        ),
        case(
            "freezing_kelvin",
            u,
            [
                (
                    "What is -40 degrees Celsius in Fahrenheit?",
                    [conv("convert_temperature", -40, "C", "F")],
                    "-40 C is -40.0 F.",
                )
            ],
        ),
        case(
            "kelvin_to_celsius_whole",
            u,
            [
                (
                    "Convert 300 K to Celsius with no decimals.",
                    [conv("convert_temperature", 300, "K", "C", decimals=0)],
                    "300 K is 27 C.",
                )
            ],
        ),
        case(
            "cups_to_ml",
            u,
            [
                (
                    "How many millilitres are 2 cups?",
                    [conv("convert_volume", 2, "cup", "ml")],
                    "2 cups are 473.18 ml.",
                )
            ],
        ),
        case(
            "gallons_to_litres",
            u,
            [
                (
                    "Convert 5 US gallons to litres.",
                    [conv("convert_volume", 5, "gal", "l")],
                    "5 gallons are 18.93 litres.",
                )
            ],
        ),
        case(
            "two_conversions_one_message",
            u,
            [
                (
                    "Convert 5 km to miles and 20 C to Fahrenheit.",
                    [
                        conv("convert_length", 5, "km", "mi"),
                        conv("convert_temperature", 20, "C", "F"),
                    ],
                    "5 km is 3.11 miles and 20 C is 68.0 F.",
                )
            ],
        ),
        case(
            "follow_up_same_value",
            u,
            [
                (
                    "How much is 1.5 kg in pounds?",
                    [conv("convert_mass", 1.5, "kg", "lb")],
                    "1.5 kg is 3.31 lb.",
                ),
                ("And in ounces?", [conv("convert_mass", 1.5, "kg", "oz")], "1.5 kg is 52.91 oz."),
            ],
        ),
        case(
            "explain_units_no_tool",
            u,
            [
                (
                    "What's the difference between a US fluid ounce and an ounce of weight?",
                    [],
                    "A fluid ounce measures volume and an ounce measures mass.",
                )
            ],
        ),
        case("greeting_no_tool", u, [("Hello!", [], "Hello! Tell me what to convert.")]),
    ]


# --------------------------------------------------------------------------- travel

TRAVEL = "travel_multi_agent"


def travel_cases() -> list[EvalCase]:
    t = TRAVEL

    def to(agent: str) -> Call:
        return ("transfer_to_agent", {"agent_name": agent})

    return [
        case(
            "search_flight_london_paris",
            t,
            [
                (
                    "Find me a flight from London Heathrow to Paris CDG on 2025-06-01.",
                    [
                        to("flights_agent"),
                        (
                            "search_flights",
                            {"origin": "LHR", "destination": "CDG", "date": "2025-06-01"},
                        ),
                    ],
                    "There are two flights: BA304 at 07:15 for 120 euros and AF1081 at 12:40 for 95 euros.",
                ),
            ],
        ),
        case(
            "search_then_book_flight",
            t,
            [
                (
                    "I need a flight from Madrid to Lisbon on 2025-07-10 for 2 people.",
                    [
                        to("flights_agent"),
                        (
                            "search_flights",
                            {
                                "origin": "MAD",
                                "destination": "LIS",
                                "date": "2025-07-10",
                                "passengers": 2,
                            },
                        ),
                    ],
                    "TP1015 departs at 08:20 for 140 euros in total.",
                ),
                (
                    "Book it.",
                    [("book_flight", {"flight_id": "TP1015-2025-07-10", "passengers": 2})],
                    "Booked: FL-TP1015-2025-07-10-2.",
                ),
            ],
        ),
        case(
            "business_class_search",
            t,
            [
                (
                    "Business class from JFK to LHR on 2025-09-03, one passenger.",
                    [
                        to("flights_agent"),
                        (
                            "search_flights",
                            {
                                "origin": "JFK",
                                "destination": "LHR",
                                "date": "2025-09-03",
                                "passengers": 1,
                                "cabin": "business",
                            },
                        ),
                    ],
                    "BA178 at 19:30 and VS4 at 21:00 are available in business.",
                ),
            ],
        ),
        case(
            "hotel_search_budget",
            t,
            [
                (
                    "Find a hotel in Paris for 3 nights from 2025-06-01, under 100 euros a night.",
                    [
                        to("hotels_agent"),
                        (
                            "search_hotels",
                            {
                                "city": "Paris",
                                "check_in": "2025-06-01",
                                "nights": 3,
                                "max_price_per_night": 100.0,
                            },
                        ),
                    ],
                    "Petit Nord costs 95 euros a night, 285 euros for 3 nights.",
                ),
            ],
        ),
        case(
            "hotel_search_then_book",
            t,
            [
                (
                    "Any hotels in Lisbon for 2 nights from 2025-07-10?",
                    [
                        to("hotels_agent"),
                        (
                            "search_hotels",
                            {"city": "Lisbon", "check_in": "2025-07-10", "nights": 2},
                        ),
                    ],
                    "Casa Alfama, 90 euros a night, rated 4.7.",
                ),
                (
                    "Great, book Casa Alfama.",
                    [
                        (
                            "book_hotel",
                            {"hotel_id": "H-LIS-1", "check_in": "2025-07-10", "nights": 2},
                        )
                    ],
                    "Booked: HT-H-LIS-1-2025-07-10-2.",
                ),
            ],
        ),
        case(
            "activities_rome",
            t,
            [
                (
                    "What outdoor things can I do in Rome?",
                    [
                        to("activities_agent"),
                        ("find_activities", {"city": "Rome", "category": "outdoors"}),
                    ],
                    "You could ride a bike along the Appian Way.",
                ),
            ],
        ),
        case(
            "food_in_lisbon",
            t,
            [
                (
                    "Recommend some food experiences in Lisbon.",
                    [
                        to("activities_agent"),
                        ("find_activities", {"city": "Lisbon", "category": "food"}),
                    ],
                    "Try a pasteis tasting in Belem.",
                ),
            ],
        ),
        case(
            "advisory_by_root",
            t,
            [
                (
                    "Do I need anything special to enter the United Kingdom?",
                    [("get_travel_advisory", {"country": "United Kingdom"})],
                    "Many visitors need an electronic travel authorisation for the United Kingdom.",
                ),
            ],
        ),
        case(
            "flight_then_hotel_handover",
            t,
            [
                (
                    "Search flights from CDG to FCO on 2025-08-15.",
                    [
                        to("flights_agent"),
                        (
                            "search_flights",
                            {"origin": "CDG", "destination": "FCO", "date": "2025-08-15"},
                        ),
                    ],
                    "AZ317 departs at 09:05 for 140 euros.",
                ),
                (
                    "Now I need a hotel in Rome for 4 nights from 2025-08-15.",
                    [
                        to("hotels_agent"),
                        ("search_hotels", {"city": "Rome", "check_in": "2025-08-15", "nights": 4}),
                    ],
                    "Albergo Sole, 130 euros a night.",
                ),
            ],
        ),
        case(
            "museums_paris",
            t,
            [
                (
                    "Which museums should I visit in Paris?",
                    [
                        to("activities_agent"),
                        ("find_activities", {"city": "Paris", "category": "museum"}),
                    ],
                    "The Louvre and the Musee d'Orsay.",
                ),
            ],
        ),
        case(
            "greeting_no_tool",
            t,
            [
                (
                    "Hi! What can you help me with?",
                    [],
                    "I can find flights, hotels and things to do, and check travel advisories.",
                ),
            ],
        ),
        case(
            "packing_advice_no_tool",
            t,
            [
                (
                    "Should I pack an umbrella for a trip in spring?",
                    [],
                    "An umbrella is a good idea for spring travel.",
                ),
            ],
        ),
    ]


# --------------------------------------------------------------------------- research_notes

NOTES = "research_notes"


def _open(n: int) -> Turn:
    note = f"BAT-{n:02d}"
    return (f"Open note {note}.", [("read_note", {"note_id": note})], f"Here is note {note}.")


_SEARCH_SODIUM: Turn = (
    "Search my notes for sodium-ion cells.",
    [("search_notes", {"query": "sodium-ion"})],
    "Two notes match: BAT-02 and BAT-05.",
)
_SEARCH_RECYCLING: Turn = (
    "Search my notes about recycling.",
    [("search_notes", {"query": "recycling"})],
    "BAT-06 and BAT-08 cover recycling.",
)
_SEARCH_HEAT: Turn = (
    "Search the notes for heat pump pairing.",
    [("search_notes", {"query": "heat pump"})],
    "BAT-07 covers pairing a battery with a heat pump.",
)
_TOP_RECYCLING: Turn = (  # two calls in one turn: the second call resends the first's result
    "Look up recycling and open the top result.",
    [("search_notes", {"query": "recycling"}), ("read_note", {"note_id": "BAT-06"})],
    "The top result is BAT-06, on recycling routes for spent home batteries.",
)
_COMPARE: Turn = (
    "Compare BAT-02 with BAT-05.",
    [("compare_notes", {"first_id": "BAT-02", "second_id": "BAT-05"})],
    "BAT-02 reports field results; BAT-05 compares the cost per stored kWh.",
)
_THANKS: Turn = ("Thanks, that helps.", [], "You are welcome.")
_PAUSE: Turn = ("Give me a moment to think.", [], "Take your time.")
_HELLO: Turn = ("Hello, I am back to my notes.", [], "Welcome back.")


def notes_cases() -> list[EvalCase]:
    """Six or seven turns per case; every tool result is 0.5 to 1 KB of text."""
    n, o = NOTES, _open
    return [
        case("sodium_review", n, [_SEARCH_SODIUM, o(2), o(5), _COMPARE, _THANKS, o(1)]),
        case("recycling_review", n, [_SEARCH_RECYCLING, o(6), o(8), _THANKS, o(1), _PAUSE, o(3)]),
        case("heat_pump_sizing", n, [_SEARCH_HEAT, o(7), o(3), o(4), _THANKS, _COMPARE]),
        case(
            "top_result_chain",
            n,
            [_TOP_RECYCLING, o(8), _SEARCH_SODIUM, o(2), _PAUSE, o(5), _THANKS],
        ),
        case("sizing_deep_dive", n, [o(3), o(4), o(7), _SEARCH_HEAT, _PAUSE, o(1), _THANKS]),
        case("cost_study", n, [_SEARCH_SODIUM, _COMPARE, o(5), o(1), _PAUSE, _TOP_RECYCLING]),
        case("library_tour", n, [o(1), o(2), o(3), o(4), o(5), o(6)]),
        case(
            "second_life",
            n,
            [_SEARCH_RECYCLING, o(8), o(6), _THANKS, _SEARCH_SODIUM, o(2), _PAUSE],
        ),
        case("mixed_review", n, [_HELLO, _COMPARE, _TOP_RECYCLING, o(7), o(4), _THANKS]),
        case("inverter_check", n, [o(4), _SEARCH_HEAT, o(7), o(3), _COMPARE, _PAUSE, o(8)]),
    ]


def main() -> None:
    write(
        HOME,
        "Smart home: device state kept in the session across turns, look-up then act, "
        "scenes, no-tool questions.",
        home_cases(),
    )
    write(
        SUPPORT,
        "Shop support: look-up chains, nested list and object arguments, a refund "
        "policy the agent must follow, no-tool questions.",
        support_cases(),
    )
    write(
        UNITS,
        "Unit conversion: numeric values and unit enums (Literal and Enum), optional "
        "precision, several calls in one turn, no-tool questions.",
        unit_cases(),
    )
    write(
        TRAVEL,
        "Trip planning: a coordinator transferring to flight, hotel and activity "
        "sub-agents across turns, its own advisory tool, no-tool questions.",
        travel_cases(),
    )
    write(
        NOTES,
        "Research notes: long sessions (six or seven turns) whose tool results grow the "
        "context: searches, note reads, comparisons, a search-then-read chain, small talk.",
        notes_cases(),
    )


if __name__ == "__main__":
    main()
