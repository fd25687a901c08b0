"""schemathesis checks of our own (loaded by ``rbee_bdd.faults.fuzz`` through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

from typing import Any

import schemathesis

from rbee_bdd.clients.security import unsafe_content


@schemathesis.check
def safe_error_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """An error body carries no traceback, filesystem path, address or URL."""
    if response.status_code < 400:
        return None
    found = unsafe_content(response.text)
    if found:
        raise AssertionError(f"the {response.status_code} error body carries {', '.join(found)}: {response.text[:200]}")
    return None
