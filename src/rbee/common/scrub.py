"""Text a client may read, scrubbed of what tells an attacker about the machine: paths, URLs, addresses.

Kept apart from the error handlers (which import FastAPI) so that narration and stream markers,
made everywhere, can use it cheaply.
"""

from __future__ import annotations

import re

# absolute paths of two or more parts, URLs, and IPv4 addresses (with a port or not)
PATH = re.compile(r"(?<![\w.])/(?:[\w.@+-]+/)+[\w.@+-]*")
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.IGNORECASE)
ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")


def scrub(message: str) -> str:
    """*message* without filesystem paths, URLs or IP addresses."""
    return ADDRESS.sub("<address>", PATH.sub("<path>", URL.sub("<url>", message)))


def scrub_paths(text: str) -> str:
    """*text* without filesystem paths (narration keeps its URLs: a worker's address is its story)."""
    return PATH.sub("<path>", text)
