"""A hive's instance id: made at its first start and kept in its state directory.

Queen tells two hives that claim the same hive id apart by it: a second machine (another state
directory) has another instance id and is refused while the first is alive; the same hive
restarted by its supervisor keeps its id and is taken back at once.
"""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path

log = logging.getLogger("rbee.hive")
FILE = "instance-id"
INSTANCE_ID = re.compile(r"[0-9a-f]{16}")


def instance_id(state_dir: Path) -> str:
    """The id kept in *state_dir*, or a new one written there (kept in memory only if it cannot be)."""
    path = state_dir / FILE
    try:
        kept = path.read_text().strip()
    except OSError:
        kept = ""
    if INSTANCE_ID.fullmatch(kept):
        return kept
    made = secrets.token_hex(8)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(FILE + ".tmp")
        tmp.write_text(made + "\n")
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot keep the hive's instance id in %s (%s): a restart will count as another hive "
                    "until this one has been silent past queen's staleness bound", path, exc.strerror)
    return made
