"""LiteLLM's per-call success logging and pricing skipped while nobody reads them.

After each call LiteLLM builds a logging payload and computes the response cost
(`Logging.async_success_handler` / `success_handler`, `Logging.response_cost_calculator`) for
its callbacks. With no callback registered nobody reads either: the handlers return at once and
the price is None (unknown, which is what LiteLLM itself returns when a price fails). LiteLLM
prices every response twice, by a cost-map lookup that, for a model vLLM serves, misses and walks
every fallback. LiteLLM's own method runs as soon as a callback is registered. Measured: see
bench.load.lean_adk.
"""

from __future__ import annotations

import inspect
from typing import Any

from bench.compat import gate

SUCCESS_HANDLERS = ("async_success_handler", "success_handler")
PRICER = "response_cost_calculator"
CALLBACK_LISTS = ("callbacks", "success_callback", "_async_success_callback")
_ORIGINALS = "_bench_lean_originals"  # Logging attribute: {method name: LiteLLM's own method}


def missing() -> list[str]:
    import litellm
    from litellm.litellm_core_utils.litellm_logging import Logging

    return [
        *(f"Logging.{n}" for n in (*SUCCESS_HANDLERS, PRICER) if not hasattr(Logging, n)),
        *(f"litellm.{n}" for n in CALLBACK_LISTS if not hasattr(litellm, n)),
    ]


PATCH = gate.Patch("lean logging", ("litellm",), missing, needs=("litellm",))


def callbacks_registered() -> bool:
    """A LiteLLM callback reads what is logged and assembled (logging, cost)."""
    import litellm

    return any(getattr(litellm, name, None) for name in CALLBACK_LISTS)


def _while_no_callback(*names: str) -> None:
    """Make LiteLLM `Logging` methods return None while no callback is registered; LiteLLM's own
    method runs as soon as one is. Idempotent; `restore` puts the originals back."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    originals: dict[str, Any] = Logging.__dict__.get(_ORIGINALS) or {}
    for name in names:
        if name in originals:
            continue
        original = originals[name] = getattr(Logging, name)
        if inspect.iscoroutinefunction(original):

            async def gated_async(self: Any, *a: Any, _f: Any = original, **k: Any) -> Any:
                return await _f(self, *a, **k) if callbacks_registered() else None

            setattr(Logging, name, gated_async)
        else:

            def gated(self: Any, *a: Any, _f: Any = original, **k: Any) -> Any:
                return _f(self, *a, **k) if callbacks_registered() else None

            setattr(Logging, name, gated)
    setattr(Logging, _ORIGINALS, originals)


def skip_unread_success_logging() -> bool:
    """LiteLLM's success handlers return at once while no callback is registered."""
    if not gate.allowed("litellm_logging"):
        return False
    _while_no_callback(*SUCCESS_HANDLERS)
    return True


def skip_unread_cost() -> bool:
    """LiteLLM's response cost is None (unknown) while no callback is registered (only callbacks
    and `_hidden_params` readers use the price; ADK and bench read neither)."""
    if not gate.allowed("litellm_logging"):
        return False
    _while_no_callback(PRICER)
    return True


def restore() -> None:
    """LiteLLM's own methods back."""
    from litellm.litellm_core_utils.litellm_logging import Logging

    for name, original in (Logging.__dict__.get(_ORIGINALS) or {}).items():
        setattr(Logging, name, original)
    if _ORIGINALS in Logging.__dict__:
        delattr(Logging, _ORIGINALS)
