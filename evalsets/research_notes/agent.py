"""Research notes agent: long sessions whose tool results grow the context turn after turn.

A researcher works through a fixed library of eight notes on home battery storage: searches,
opens notes, compares two of them. Every tool returns sizeable, deterministic text (a note is
~0.9 KB with its measurement log), so each turn resends a longer history: the shape of agent
traffic that exercises the engine's prefix cache. Tools are local; `bench` replaces `model`
with LiteLLM pointed at the vLLM server.
"""

from __future__ import annotations

from google.adk.agents import LlmAgent

# note id -> (title, tags, summary). The measurement log is derived from the id (deterministic).
_NOTES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "BAT-01": (
        "Lithium iron phosphate cells for home storage",
        ("lfp", "lithium", "cells", "home storage"),
        "LFP cells trade energy density for a long cycle life and a flat discharge curve; "
        "they tolerate full charge well and need less cooling than NMC packs.",
    ),
    "BAT-02": (
        "Sodium-ion cells: first field results",
        ("sodium-ion", "sodium", "cells"),
        "Sodium-ion cells kept 91 percent of capacity after 1500 cycles in a cold garage; "
        "energy density is lower than LFP but the cells charge well below freezing.",
    ),
    "BAT-03": (
        "Sizing a battery for evening peak demand",
        ("sizing", "demand", "home storage"),
        "A household using 9 kWh between 17:00 and 23:00 needs about 11 kWh of usable "
        "capacity once inverter losses and a 10 percent reserve are counted.",
    ),
    "BAT-04": (
        "Inverter efficiency at partial load",
        ("inverter", "efficiency"),
        "Hybrid inverters lose 4 to 9 percent at loads under 500 W; a battery that mostly "
        "serves standby loads should be paired with an inverter rated for low idle draw.",
    ),
    "BAT-05": (
        "Sodium-ion versus LFP: cost per stored kWh",
        ("sodium-ion", "sodium", "lfp", "cost"),
        "Over fifteen years the lower cell price of sodium-ion offsets its shorter warranty "
        "only when the battery cycles daily; for backup-only use LFP stays cheaper.",
    ),
    "BAT-06": (
        "Recycling routes for spent home batteries",
        ("recycling", "end of life"),
        "Hydrometallurgical recycling recovers over 95 percent of lithium and cobalt; LFP "
        "packs are worth less to recyclers, so take-back schemes matter more for them.",
    ),
    "BAT-07": (
        "Pairing a battery with a heat pump",
        ("heat pump", "demand", "sizing"),
        "Pre-heating the house at midday from stored solar cut evening grid imports by a "
        "third; the battery needed 4 kWh more capacity than the lighting-only estimate.",
    ),
    "BAT-08": (
        "Second-life EV packs as home storage",
        ("recycling", "second life", "cells"),
        "Second-life packs cost 40 percent less but arrive with uneven cell health; a "
        "module-level battery management system is required before installation.",
    ),
}


def _log(note_id: str) -> list[str]:
    """A fixed measurement log per note: five lines, different for every note."""
    n = int(note_id.split("-")[1])
    return [
        f"week {w}: cycles {w * 7 * n}, capacity {100 - w * (n % 3 + 1) * 0.4:.1f} percent, "
        f"round-trip efficiency {92 - n * 0.3 - w * 0.1:.1f} percent, cell spread {n + w} mV"
        for w in range(1, 6)
    ]


def _find(note_id: str) -> tuple[str, tuple[str, str, tuple[str, ...], str]] | None:
    key = note_id.strip().upper()
    if key not in _NOTES:
        return None
    title, tags, summary = _NOTES[key]
    return key, (key, title, tags, summary)


def search_notes(query: str) -> dict:
    """Searches the research notes and returns the best matches with a snippet each.

    Args:
        query: Words to look for, e.g. "sodium-ion" or "recycling".
    """
    words = [w for w in query.lower().replace(",", " ").split() if w]
    scored = []
    for note_id, (title, tags, summary) in _NOTES.items():
        haystack = " ".join((title.lower(), " ".join(tags), summary.lower()))
        score = sum(haystack.count(w) for w in words) + 3 * sum(query.lower() == t for t in tags)
        if score:
            scored.append((-score, note_id, title, summary))
    scored.sort()
    return {
        "status": "success",
        "query": query,
        "results": [
            {"note_id": i, "title": t, "score": -s, "snippet": summary[:160]}
            for s, i, t, summary in scored[:4]
        ],
    }


def read_note(note_id: str) -> dict:
    """Returns the full text of one note with its measurement log.

    Args:
        note_id: The note's id, e.g. "BAT-03".
    """
    found = _find(note_id)
    if found is None:
        return {"status": "error", "error_message": f"No note with id {note_id}."}
    key, (_, title, tags, summary) = found
    return {
        "status": "success",
        "note_id": key,
        "title": title,
        "tags": list(tags),
        "summary": summary,
        "measurements": _log(key),
    }


def compare_notes(first_id: str, second_id: str) -> dict:
    """Puts the summaries and last measurements of two notes side by side.

    Args:
        first_id: The first note's id, e.g. "BAT-02".
        second_id: The second note's id, e.g. "BAT-05".
    """
    sides = []
    for note_id in (first_id, second_id):
        found = _find(note_id)
        if found is None:
            return {"status": "error", "error_message": f"No note with id {note_id}."}
        key, (_, title, _tags, summary) = found
        sides.append({"note_id": key, "title": title, "summary": summary, "latest": _log(key)[-3:]})
    return {"status": "success", "notes": sides}


root_agent = LlmAgent(
    name="research_notes_agent",
    model="gemini-2.5-flash",
    description="Helps a researcher search, read and compare notes on home battery storage.",
    instruction=(
        "You help a researcher work through their notes on home battery storage. Use "
        "search_notes to find notes on a topic, read_note to open a note by its id (ids look "
        "like BAT-03), and compare_notes to compare two notes. When asked to open the top "
        "result of a search, search first, then read the first note it returns. Answer "
        "thanks and small talk without calling a tool."
    ),
    tools=[search_notes, read_note, compare_notes],
)
