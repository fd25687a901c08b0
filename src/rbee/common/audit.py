"""The audit trail: security-relevant events as hash-chained JSON lines.

Each record carries ``prev`` (the previous record's ``hash``; 64 zeros for the first) and
``hash``, the SHA-256 of the record's canonical JSON without ``hash``. Changing a record breaks
its own hash; removing or inserting one breaks the next record's ``prev``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("rbee.audit")
GENESIS = "0" * 64


def digest(record: dict[str, Any]) -> str:
    """SHA-256 of *record* without its ``hash``, as canonical JSON (sorted keys, no spaces)."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def last_hash(path: Path) -> str:
    """The ``hash`` of the file's last record (the chain goes on across restarts), or GENESIS."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 65536))
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return GENESIS
    for line in reversed(lines):
        if line.strip():
            try:
                return str(json.loads(line)["hash"])
            except (ValueError, KeyError, TypeError):
                return GENESIS
    return GENESIS


FIELD_LIMIT = 256  # characters of an attacker-controlled field kept in a record


def clip_field(text: str) -> str:
    """*text*, or its first FIELD_LIMIT characters and how many more there were."""
    if len(text) <= FIELD_LIMIT:
        return text
    return f"{text[:FIELD_LIMIT]}…(+{len(text) - FIELD_LIMIT} characters)"


class AuditLog:
    """Appends records to one file (created private); without a path it records nothing."""

    def __init__(self, path: Path | None, actor: str) -> None:
        self.path = path
        self.actor = actor
        self._lock = threading.Lock()
        self._prev = GENESIS
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600, exist_ok=True)
            self._prev = last_hash(path)

    def record(self, action: str, outcome: str, principal: str = "", client: str = "", target: str = "",
               correlation_id: str = "", **details: Any) -> None:
        """Append one event: who (*principal* from *client*) did *action* to *target*, and how it went.

        *target* (a request's path, an attacker's text) is clipped to FIELD_LIMIT characters, so that
        unauthenticated requests cannot fill the disk through the trail.
        """
        if self.path is None:
            return
        target = clip_field(target)
        with self._lock:
            entry: dict[str, Any] = {
                "time": round(time.time(), 3), "actor": self.actor, "principal": principal, "client": client,
                "action": action, "target": target, "outcome": outcome, "correlation_id": correlation_id,
                **details, "prev": self._prev,
            }
            entry["hash"] = digest(entry)
            try:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n")
            except OSError as exc:
                log.error("audit record %s not written: %s", action, exc.strerror)
                return
            self._prev = entry["hash"]


@dataclass(frozen=True)
class Verdict:
    records: int
    broken_at: int = 0  # 1-based record number of the first broken link; 0: intact
    why: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at == 0


def verify(path: Path) -> Verdict:
    """Walk the chain; the first record whose hash or link does not hold, and why."""
    prev = GENESIS
    count = 0
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for count, line in enumerate(handle, 1):
            try:
                entry = json.loads(line)
                stored, linked = entry["hash"], entry["prev"]
            except (ValueError, KeyError, TypeError):
                return Verdict(count, count, "not a JSON audit record")
            if digest(entry) != stored:
                return Verdict(count, count, "its content does not match its hash (changed after it was written)")
            if linked != prev:
                return Verdict(count, count, "its prev does not match the record before it (removed or inserted)")
            prev = stored
    return Verdict(count)
