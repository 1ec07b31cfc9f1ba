"""The gate in front of every patch of third-party internals: checked once, one warning line.

Each patch module of `bench.compat` declares a `Patch`: the libraries whose internals it touches
and a `missing()` that names every touched attribute that is not there. `check()` runs them all
once per process (the load process calls it at start, before any patch is applied); a patch
whose library is outside the tested range (`TESTED`), or whose attributes moved, is not applied
and bench runs the library's own path. What fell back is told in exactly one line on stderr
(the load process's log), e.g.

    bench: litellm 1.200.0 is newer than tested (<1.111): lean streaming off, falling back to
    LiteLLM's own path

(one line, wrapped here). Patches are independent: one failed check turns off only its patch.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

# Distribution -> (lowest tested, first untested). litellm and google-adk are capped at the
# tested minor in pyproject.toml too (tests/unit/compat/test_gate.py keeps the two in step); the
# others' touched names are public or long-stable, so the tested range is their major.
TESTED: dict[str, tuple[str, str]] = {
    "litellm": ("1.110.2", "1.111"),
    "google-adk": ("2.13", "2.14"),
    "anyio": ("4.9", "5"),  # the lowest the MCP SDK takes
    "gevent": ("24.11.1", "27"),  # the lowest Locust takes
    "locust": ("2.47", "3"),
    "pydantic": ("2.14", "3"),
}
# How a distribution is named to the user ("falling back to LiteLLM's own path").
SHOWN = {"litellm": "LiteLLM", "google-adk": "ADK", "anyio": "anyio", "gevent": "gevent",
         "locust": "Locust", "pydantic": "pydantic"}  # fmt: skip

# The patch modules, in the order their failures are named.
PATCH_MODULES = (
    "lean_stream",
    "litellm_logging",
    "a2a_import",
    "strict_stream",
    "anyio_threads",
    "plain_subprocess",
    "real_locks",
    "csv_writer_guard",
)


@dataclass(frozen=True)
class Patch:
    name: str  # as the warning names it: "lean streaming"
    libraries: tuple[str, ...]  # distributions whose internals it touches
    missing: Callable[[], list[str]]  # the touched attributes that are not there
    # the modules `missing()` imports: `check()` looks at a patch only once the process has them
    # (it imports nothing itself); `allowed()` checks a patch it is asked about in any case
    needs: tuple[str, ...] = ()
    without: str | None = None  # what goes wrong while it is off (a correctness fix)


_verdicts: dict[str, str | None] = {}  # patch module -> None (apply it) or why not


def version_problem(library: str) -> str | None:
    """Why `library`'s installed version is outside TESTED, or None."""
    import importlib.metadata  # here, not at import: the CLI's start-up stays light

    from packaging.version import Version

    try:
        installed = importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return f"{library} is not installed"
    low, high = TESTED[library]
    if Version(installed) >= Version(high):
        return f"{library} {installed} is newer than tested (<{high})"
    if Version(installed) < Version(low):
        return f"{library} {installed} is older than tested (>={low})"
    return None


def patch_of(module: str) -> Patch:
    patch: Patch = importlib.import_module(f"bench.compat.{module}").PATCH
    return patch


def _verdict(patch: Patch) -> str | None:
    for library in patch.libraries:
        if (problem := version_problem(library)) is not None:
            return problem
    try:
        gone = patch.missing()
    except ImportError as exc:
        return f"{exc.name or 'a module'} cannot be imported"
    if not gone:
        return None
    if len(patch.libraries) == 1:
        import importlib.metadata

        library = patch.libraries[0]
        return f"{library} {importlib.metadata.version(library)} has no {', '.join(gone)}"
    return f"{', '.join(gone)} missing"


def check() -> dict[str, bool]:
    """Check every patch not checked yet in this process; tell what fell back in one line.

    Returns patch module -> applicable. A patch whose library this process has not imported
    yet is checked when it is first asked for (`allowed`): checking imports nothing (importing
    Locust gevent-patches the process, LiteLLM takes seconds). The load process has imported
    them all when it calls this, so its verdicts and its one line come at once."""
    new = []
    for module in PATCH_MODULES:
        if module in _verdicts:
            continue
        patch = patch_of(module)
        if not all(name in sys.modules for name in patch.needs):
            continue
        _verdicts[module] = _verdict(patch)
        if _verdicts[module] is not None:
            new.append(module)
    _warn(new)
    return {m: v is None for m, v in _verdicts.items()}


def allowed(module: str) -> bool:
    """Whether the patch in `bench.compat.<module>` may be applied (checks on first use)."""
    if module not in _verdicts:
        check()
    if module not in _verdicts:  # its library was not imported yet: the caller is to patch it
        _verdicts[module] = _verdict(patch_of(module))
        _warn([module] if _verdicts[module] is not None else [])
    return _verdicts[module] is None


def warning_line(modules: list[str]) -> str:
    """One line naming every patch that fell back, by reason, and the path taken instead."""
    by_reason: dict[str, list[Patch]] = {}
    for module in modules:
        by_reason.setdefault(_verdicts[module] or "", []).append(patch_of(module))
    parts = [f"{reason}: {', '.join(p.name for p in ps)} off" for reason, ps in by_reason.items()]
    patches = [p for ps in by_reason.values() for p in ps]
    # the library each reason names ("litellm 1.200.0 is newer..."), else several
    libraries = {reason.split()[0] for reason in by_reason}
    library = next(iter(libraries))
    own = (
        f"{SHOWN[library]}'s own path"
        if libraries == {library} and library in SHOWN
        else ("the libraries' own paths")
    )
    line = f"bench: {'; '.join(parts)}, falling back to {own}"
    risks = [f"without {p.name}, {p.without}" for p in patches if p.without]
    return line + (f" ({'; '.join(risks)})" if risks else "")


def _warn(modules: list[str]) -> None:
    """Each patch is checked once, and the load process checks them all at once at its start:
    one line per process. (Elsewhere only the agent's patches apply, checked together.)"""
    if modules:
        print(warning_line(modules), file=sys.stderr, flush=True)


def reset() -> None:
    """Forget the verdicts (tests that break an attribute on purpose)."""
    _verdicts.clear()
