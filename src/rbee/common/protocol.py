"""The hive↔queen protocol's version, and which versions work together.

``MAJOR.MINOR``: a minor version only adds (fields a peer may ignore), a major one breaks. Queen
takes heartbeats of any minor version of its own major one, older or newer, and refuses the rest.
A heartbeat without ``protocol`` comes from a hive older than versioning: protocol 1.0.
"""

from __future__ import annotations

import functools
import importlib.metadata

PROTOCOL = "1.1"
PROTOCOL_PATTERN = r"^\d{1,4}\.\d{1,4}$"
UNVERSIONED = "1.0"


@functools.cache
def software_version() -> str:
    """The installed reference stack's version."""
    try:
        return importlib.metadata.version("rbee-acceptance")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def compatible(theirs: str, ours: str = PROTOCOL) -> bool:
    """Whether a peer speaking protocol *theirs* can work with us (same major version)."""
    return theirs.split(".")[0] == ours.split(".")[0]
