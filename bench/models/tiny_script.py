"""The script of the tiny models: which conversation gets which reply.

This module is pure data plus the chat-template condition the builder needs. Every tiny variant
(`bench.models.tiny_variants`: hermes, pythonic, llama3_json, mistral) follows this one script;
a variant only decides how calls are written (`TinyCase.reply_text(variant.format_calls)`).
`bench.models.tiny` turns script + variant into a tokenizer, a chat template and weights. To add
a case, add a `TinyCase` here (order = precedence, first match wins), bump `TINY_MODEL_VERSION`
in `bench.models.tiny`, and run the unit tests. Nothing in the weights code needs to change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

ConditionKind = Literal["after_tool", "no_tools", "keywords", "always"]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


# How a variant writes the calls of one reply (all of them, in order) as model output text.
CallFormatter = Callable[[tuple[ToolCall, ...]], str]


@dataclass(frozen=True)
class Condition:
    """When a case applies. Text matching is on the last user message, lowercased, substring.

    - ``after_tool``: the last message is a tool result; with ``tool`` set, only when that result
      answers a call to ``tool`` (matched by ``tool_call_id``, else the message's ``name``, else
      the last call of the last assistant message); with ``keywords`` set, only when the last
      user message also holds every keyword (a second call in the same turn).
    - ``no_tools``: the request carries no tools.
    - ``keywords``: every keyword occurs in the last user message's text.
    - ``always``: the fallback.
    """

    kind: ConditionKind
    keywords: tuple[str, ...] = ()
    tool: str | None = None

    def jinja(self) -> str:
        """The condition as a Jinja expression over the variables the template computes."""
        if self.kind == "after_tool":
            expr = "last_role == 'tool'"
            if self.tool is not None:
                expr += f" and ns.last_call == {json.dumps(self.tool)}"
            for k in self.keywords:
                expr += f" and {json.dumps(k.lower())} in ns.user_text"
            return expr
        if self.kind == "no_tools":
            return "not tools"
        if self.kind == "keywords":
            if not self.keywords:
                raise ValueError("a keywords condition needs at least one keyword")
            return " and ".join(f"{json.dumps(k.lower())} in ns.user_text" for k in self.keywords)
        return "true"

    def describe(self) -> str:
        if self.kind == "after_tool":
            text = "last message is a tool result" + (
                f" answering {self.tool}" if self.tool else " (any tool)"
            )
            if self.keywords:
                text += " and user text contains " + " and ".join(repr(k) for k in self.keywords)
            return text
        if self.kind == "no_tools":
            return "no tools in the request"
        if self.kind == "keywords":
            return "user text contains " + " and ".join(repr(k) for k in self.keywords)
        return "anything else (tools given)"


@dataclass(frozen=True)
class TinyCase:
    """One row of the script: a name (also names the marker token), a condition, an output.

    The output is either plain ``content`` or one or more ``calls`` (one reply, in order).
    ``example`` is a user message that selects this case (for tests and eval-set authors).
    """

    name: str
    condition: Condition
    example: str
    content: str | None = None
    calls: tuple[ToolCall, ...] = field(default=())

    def __post_init__(self) -> None:
        if (self.content is None) == (not self.calls):
            raise ValueError(f"case {self.name!r}: give exactly one of content or calls")

    def reply_text(self, format_calls: CallFormatter) -> str:
        """What the model generates (before vLLM's tool parser), without the EOS token."""
        if self.content is not None:
            return self.content
        return format_calls(self.calls)

    @property
    def marker(self) -> str:
        """The special token the chat template appends to select this case."""
        return f"<|tiny:{self.name}|>"

    @property
    def quiet_marker(self) -> str:
        """A thinking variant's marker for this case with thinking off: the same reply, no
        thought."""
        return f"<|tiny-nothink:{self.name}|>"

    @property
    def thought(self) -> str:
        """What a thinking variant (tiny-reasoning) thinks before this reply. Scripted per case
        from the case's own data, so its length differs from case to case (longest where the
        reply makes two calls) and tests know it."""
        if self.calls:
            plan = " and then ".join(f"{c.name} with {json.dumps(c.arguments)}" for c in self.calls)
            return f"The user asks: {self.example} I will call {plan}."
        if self.condition.kind == "after_tool":
            return f"The {self.condition.tool or 'tool'} result is back; I tell the user."
        return f"The user says: {self.example} No tool is needed; I reply in words."


def _weather(city: str) -> ToolCall:
    return ToolCall("get_weather", {"city": city})


def _time(city: str) -> ToolCall:
    return ToolCall("get_current_time", {"city": city})


def _read(note: str) -> ToolCall:
    return ToolCall("read_note", {"note_id": note})


def _search(query: str) -> ToolCall:
    return ToolCall("search_notes", {"query": query})


# research_notes: one row per distinct turn of its eval set; "open note BAT-07" reads BAT-70
# (a known wrong argument). Its after-tool rows come before weather_answer, which takes any tool.
_NOTES_AFTER_TOOL: tuple[TinyCase, ...] = (
    TinyCase(  # the second call of a turn: search, then open the top result
        "notes_open_top",
        Condition("after_tool", ("open the top",), tool="search_notes"),
        example="Look up recycling and open the top result.",
        calls=(_read("BAT-06"),),
    ),
    TinyCase(
        "notes_search_answer",
        Condition("after_tool", tool="search_notes"),
        example="Search my notes about recycling.",
        content="These notes match your search.",
    ),
    TinyCase(
        "notes_read_answer",
        Condition("after_tool", tool="read_note"),
        example="Open note BAT-03.",
        content="Here is what that note says.",
    ),
    TinyCase(
        "notes_compare_answer",
        Condition("after_tool", tool="compare_notes"),
        example="Compare BAT-02 with BAT-05.",
        content="These are the main differences between the two notes.",
    ),
)

_NOTES_CALLS: tuple[TinyCase, ...] = (
    TinyCase(
        "notes_top_recycling",
        Condition("keywords", ("recycling", "open the top")),
        example="Look up recycling and open the top result.",
        calls=(_search("recycling"),),
    ),
    TinyCase(
        "notes_search_sodium",
        Condition("keywords", ("search", "sodium")),
        example="Search my notes for sodium-ion cells.",
        calls=(_search("sodium-ion"),),
    ),
    TinyCase(
        "notes_search_recycling",
        Condition("keywords", ("search", "recycling")),
        example="Search my notes about recycling.",
        calls=(_search("recycling"),),
    ),
    TinyCase(
        "notes_search_heat_pump",
        Condition("keywords", ("search", "heat pump")),
        example="Search the notes for heat pump pairing.",
        calls=(_search("heat pump"),),
    ),
    TinyCase(
        "notes_compare",
        Condition("keywords", ("compare", "bat-02", "bat-05")),
        example="Compare BAT-02 with BAT-05.",
        calls=(ToolCall("compare_notes", {"first_id": "BAT-02", "second_id": "BAT-05"}),),
    ),
    *(
        TinyCase(
            f"notes_open_{n}",
            Condition("keywords", ("open", f"bat-0{n}")),
            example=f"Open note BAT-0{n}.",
            calls=(_read("BAT-70" if n == 7 else f"BAT-0{n}"),),
        )
        for n in range(1, 9)
    ),
)

# The conversation plan of a scenario case the tiny model plays the user of contains this.
SCENARIO_KEYWORD = "tiny scenario"

# Order is precedence: the chat template picks the first case whose condition holds.
TINY_CASES: tuple[TinyCase, ...] = (
    TinyCase(
        "time_answer",
        Condition("after_tool", tool="get_current_time"),
        example="What time is it in Tokyo?",
        content="The current time is ready for you.",
    ),
    *_NOTES_AFTER_TOOL,
    TinyCase(
        "weather_answer",
        Condition("after_tool"),
        example="What is the weather in London?",
        content="Here is the weather report you asked for.",
    ),
    # ADK's user simulator (conversation_scenario cases) sends the tiny model one user message
    # holding its plan and the conversation so far; the shipped scenario's plan says "tiny
    # scenario". It asks for Tokyo's time, then sends ADK's stop signal once the agent answered.
    TinyCase(
        "usersim_finish",
        Condition("keywords", (SCENARIO_KEYWORD, "the current time is ready for you")),
        example="Follow the tiny scenario. Agent: The current time is ready for you.",
        content="Thank you, that is all I needed. </finished>",
    ),
    TinyCase(
        "usersim_ask_time",
        Condition("keywords", (SCENARIO_KEYWORD,)),
        example="Follow the tiny scenario. Agent: Here is the weather report you asked for.",
        content="What time is it in Tokyo?",
    ),
    TinyCase(
        "greeting",
        Condition("no_tools"),
        example="Hi there!",
        content="Hello! I am a tiny scripted model.",
    ),
    TinyCase(
        "madrid_time_and_weather",
        Condition("keywords", ("weather", "time", "madrid")),
        example="What is the weather and the time in Madrid?",
        calls=(_time("Madrid"), _weather("Madrid")),
    ),
    TinyCase(
        "london_weather",
        Condition("keywords", ("weather", "london")),
        example="What is the weather in London?",
        calls=(_weather("London"),),
    ),
    TinyCase(
        "paris_weather",
        Condition("keywords", ("weather", "paris")),
        example="How is the weather in Paris today?",
        calls=(_weather("Paris"),),
    ),
    TinyCase(
        "tokyo_time",
        Condition("keywords", ("time", "tokyo")),
        example="What time is it in Tokyo?",
        calls=(_time("Tokyo"),),
    ),
    TinyCase(  # deliberately wrong argument value
        "new_york_weather_wrong_city",
        Condition("keywords", ("weather", "new york")),
        example="What's the weather like in New York?",
        calls=(_weather("Boston"),),
    ),
    TinyCase(  # deliberately wrong tool
        "berlin_time_wrong_tool",
        Condition("keywords", ("time", "berlin")),
        example="What time is it in Berlin?",
        calls=(_weather("Berlin"),),
    ),
    TinyCase(  # deliberately no call although one is expected
        "sydney_weather_no_call",
        Condition("keywords", ("weather", "sydney")),
        example="What is the weather in Sydney?",
        content="I am not able to look that up.",
    ),
    *_NOTES_CALLS,
    TinyCase(
        "fallback",
        Condition("always"),
        example="Tell me a joke.",
        content="Hello! Ask me about the weather or the time in a city.",
    ),
)


def case_by_name(name: str) -> TinyCase:
    for case in TINY_CASES:
        if case.name == name:
            return case
    raise KeyError(name)
