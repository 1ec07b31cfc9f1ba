"""Weather and time agent: the demo eval set that the tiny scripted model is written against.

Tools are local and deterministic, so every difference between runs comes from the model.
`bench` replaces `model` with LiteLLM pointed at the vLLM server; the string here is only what
`adk run` would use on its own.
"""

from google.adk.agents import LlmAgent

_WEATHER = {
    "london": "light rain, 14 C",
    "paris": "sunny, 21 C",
    "new york": "cloudy, 18 C",
    "sydney": "clear, 25 C",
    "madrid": "hot and sunny, 31 C",
    "berlin": "overcast, 12 C",
    "tokyo": "humid, 27 C",
}
_UTC_OFFSET_H = {
    "london": 0,
    "paris": 1,
    "new york": -5,
    "sydney": 10,
    "madrid": 1,
    "berlin": 1,
    "tokyo": 9,
}


def get_weather(city: str) -> dict:
    """Returns the current weather report for a city.

    Args:
        city: The name of the city, e.g. "London".
    """
    report = _WEATHER.get(city.strip().lower())
    if report is None:
        return {"status": "error", "error_message": f"No weather data for {city}."}
    return {"status": "success", "report": f"The weather in {city} is {report}."}


def get_current_time(city: str) -> dict:
    """Returns the current local time in a city.

    Args:
        city: The name of the city, e.g. "Tokyo".
    """
    offset = _UTC_OFFSET_H.get(city.strip().lower())
    if offset is None:
        return {"status": "error", "error_message": f"No time zone data for {city}."}
    # A fixed clock keeps the tool deterministic: 12:00 UTC plus the city's offset.
    hour = (12 + offset) % 24
    return {"status": "success", "report": f"It is {hour:02d}:00 in {city}."}


root_agent = LlmAgent(
    name="weather_time_agent",
    model="gemini-2.5-flash",
    description="Answers questions about the weather and the local time in a city.",
    instruction=(
        "You answer questions about the weather and the time in a city. "
        "Use get_weather for weather questions and get_current_time for time questions. "
        "Answer greetings without calling a tool."
    ),
    tools=[get_weather, get_current_time],
)
