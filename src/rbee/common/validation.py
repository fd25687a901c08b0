"""What request fields may hold, shared by the daemons' request models."""

from __future__ import annotations

from pydantic import ConfigDict

# A model name is an identifier, never a path: no "/", no leading ".", no NUL, at most 128 characters.
MODEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
# Hive and job ids: the same alphabet, a little longer.
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
# Request bodies from clients: unknown fields and wrong JSON types are refused (422), not coerced.
STRICT = ConfigDict(extra="forbid", strict=True)
