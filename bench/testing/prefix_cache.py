"""A prefix cache the fake server simulates, so it can report `cached_tokens` as vLLM does.

Deterministic and coarse: the prompt is the tool declarations followed by each message, and a
prefix counts as cached when a previous request had the same prefix (whole messages only).
Cached tokens use the fake's token estimate (characters / 4) and never exceed the prompt's.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

CAPACITY = 200_000  # prefixes kept, least recently used evicted first


class PrefixCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def lookup_and_store(self, request: dict[str, Any], prompt_tokens: int) -> int:
        """Cached tokens of this request; then remember every prefix of it."""
        units = [json.dumps(request.get("tools") or [], sort_keys=True)]
        units += [json.dumps(m, sort_keys=True) for m in request.get("messages") or []]
        digest = hashlib.sha256()
        size = cached_chars = 0
        hit = True
        for unit in units:
            digest.update(unit.encode())
            size += len(unit)
            key = digest.hexdigest()
            if hit and key in self._seen:
                cached_chars = size
                self._seen.move_to_end(key)
            else:
                hit = False
                self._seen[key] = None
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return min(cached_chars // 4, prompt_tokens)
