"""Secrets out of what bench writes: a URL's password becomes `***` in files, logs and console.

`https://user:pass@host/v1` is a legitimate way to reach a server behind basic auth, but the URL is
also what bench writes into config.resolved.toml, load_spec.json, the manifest and its messages.
Every writer passes what it writes through `redact_url` (one string) or `redact_urls` (any
JSON-like value); the password itself stays in memory only (see `split_url_credentials`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "***"
# scheme://user:password@ anywhere in a text (a log line, an error message).
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):(?P<pw>[^/\s]*)@")


def redact_url(text: str) -> str:
    """Every `scheme://user:password@` in `text` with the password replaced by `***`."""
    return _USERINFO.sub(lambda m: f"{m['head']}:{REDACTED}@", text)


def redact_urls(value: Any) -> Any:
    """`redact_url` applied to every string in a JSON-like value (dicts, lists, tuples)."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {k: redact_urls(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_urls(v) for v in value)
    return value


def split_url_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """`https://u:p@host/x` -> (`https://host/x`, (u, p)); a URL without a password is unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, (unquote(parts.username or ""), unquote(parts.password))
