"""What a daemon does not pay for when it starts (each one starts in every scenario of the suite).

Two costs that buy nothing at start, measured with ``python -X importtime`` and the kernel's process
accounting (``make bench-suite``):

* pydantic builds every model's validator when its class is defined. FastAPI defines about forty
  models for its OpenAPI document at import, which only ``GET /openapi.json`` uses. Models are built
  on first use instead (pydantic's ``defer_build``); a route's request and response models are still
  built when the route is registered, at start. Measured in the image, 11 alternating pairs: queen's
  import 0.15 CPU-s cheaper (median), the hive's 0.12, the worker's 0.05 (of about 1.1).
* httpx imports its command line (click, rich and pygments where installed) when imported as a library.

Both rely on what the packages do today: ``tests/test_lean_start.py`` fails when they change.
"""

from __future__ import annotations

import sys


def skip_httpx_command_line() -> None:
    """httpx without its command line (it falls back when the module is absent); before httpx is imported."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def defer_model_builds() -> None:
    """pydantic models built on first use; before FastAPI is imported (the daemons, not rbee-keeper, which
    uses no model and would pay for importing pydantic)."""
    from pydantic._internal import _config

    _config.config_defaults["defer_build"] = True
