"""The audit trail: security-relevant events as hash-chained JSON lines, anchored outside the file.

Each record carries ``prev`` (the previous record's ``hash``; 64 zeros for the first) and
``hash``, the SHA-256 of the record's canonical JSON without ``hash``. Changing a record breaks
its own hash; removing or inserting one breaks the next record's ``prev``.

The chain alone cannot show a file cut short, emptied, replaced, or extended by someone who
recomputes the hashes. So the daemon keeps an *anchor* beside it in a file of its own (the count
of records and the last hash, rewritten with each record, and shown at ``/metrics``): a trail
that does not reach its anchor has lost its tail; one that goes past it or ends on another hash
was written by someone else. A daemon that starts and finds its trail and its anchor apart
records the break (``audit.break``) and goes on from what the file holds: the break stays in
the trail for every later check. Against someone who can write both the trail and the anchor,
only a copy off the machine helps: ``--audit-syslog HOST:PORT`` sends each record there too.

With ``--audit-max-bytes`` the trail rotates: a record that would take the file past the bound
first moves it to ``FILE.<n>`` (n = 1, 2, … oldest first) and starts a new ``FILE`` whose first
record links to the last record of the one before, so the chain runs on across the files and
``verify`` walks them in order. Rotated files are never deleted by the daemon. A record that
cannot be written (a full disk, say) is logged and counted in ``rbee_audit_write_failures_total``,
and the daemon goes on serving: the failure is in the log and the metric, and the next record
written links to the last one that was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("rbee.audit")
GENESIS = "0" * 64
BREAK = "audit.break"  # the action of a record that says the trail did not match its anchor
FIELD_LIMIT = 256  # characters of an attacker-controlled field kept in a record


def canonical(record: dict[str, Any]) -> str:
    """A record as it is written and hashed: JSON with sorted keys, no spaces, ASCII only."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def digest(record: dict[str, Any]) -> str:
    """SHA-256 of *record* without its ``hash``, as canonical JSON."""
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "hash"}).encode()).hexdigest()


def clip_field(text: str) -> str:
    """*text*, or its first FIELD_LIMIT characters and how many more there were."""
    if len(text) <= FIELD_LIMIT:
        return text
    return f"{text[:FIELD_LIMIT]}…(+{len(text) - FIELD_LIMIT} characters)"


class DuplicateKey(ValueError):
    """A record names a key twice (JSON parsers keep one of them: which one differs)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise DuplicateKey(f"the key {next(k for k in keys if keys.count(k) > 1)!r} appears twice")
    return dict(pairs)


@dataclass(frozen=True)
class Anchor:
    """How far the trail went when its daemon last wrote: records and the last hash."""

    records: int = 0
    last_hash: str = GENESIS

    @classmethod
    def read(cls, path: Path) -> Anchor | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(data["records"]), str(data["last_hash"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return cls(-1, "unreadable")

    def write(self, path: Path) -> None:
        staged = path.with_name(path.name + ".new")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"records": self.records, "last_hash": self.last_hash}) + "\n")
        os.replace(staged, path)


def anchor_path(trail: Path) -> Path:
    return trail.with_name(trail.name + ".anchor")


def rotated_files(trail: Path) -> list[Path]:
    """The trail's rotated files, ``FILE.1``, ``FILE.2``, … oldest first."""
    numbered = [(int(path.name[len(trail.name) + 1:]), path) for path in trail.parent.glob(trail.name + ".*")
                if path.name[len(trail.name) + 1:].isdigit()]
    return [path for _, path in sorted(numbered)]


def trail_files(trail: Path) -> list[Path]:
    """Every file of the trail in the order its chain runs: the rotated ones, then the current one."""
    return [*rotated_files(trail), trail]


def reach(path: Path) -> Anchor:
    """How far the file's records go (count and last hash), read as they are."""
    records, last = 0, GENESIS
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            records += 1
            try:
                last = str(json.loads(line)["hash"])
            except (ValueError, KeyError, TypeError):
                last = "unreadable"
    return Anchor(records, last)


@dataclass
class Published:
    """What the running daemon's trail has reached, for /metrics (one trail per daemon process)."""

    records: int = 0
    last_hash: str = GENESIS
    write_failures: int = 0  # records that could not be written (a full disk, say)
    rotations: int = 0


CURRENT = Published()


class AuditLog:
    """Appends records to one file (created private) and keeps its anchor; without a path it records nothing."""

    def __init__(self, path: Path | None, actor: str, sink: tuple[str, int] | None = None,
                 max_bytes: int = 0) -> None:
        self.path = path
        self.actor = actor
        self.max_bytes = max_bytes  # rotate before a record would take the file past this (0: never)
        self._lock = threading.Lock()
        self._reach = Anchor()
        self._sink = sink
        self._socket: socket.socket | None = None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        self._reach = reach(path)
        older = rotated_files(path)
        if self._reach.records == 0 and older:  # rotated, and nothing written since: the chain goes on
            self._reach = Anchor(0, reach(older[-1]).last_hash)
        anchored = Anchor.read(anchor_path(path))
        if (anchored is None and self._reach.records == 0) or anchored == self._reach:
            self._publish()
            return
        log.error("audit trail %s does not match its anchor (%s): the break is recorded", path,
                  "missing" if anchored is None else f"{anchored.records} records")
        self.record(BREAK, "file-does-not-match-anchor", principal=f"daemon:{actor}",
                    anchor_records=anchored.records if anchored else None,
                    anchor_hash=anchored.last_hash if anchored else None,
                    file_records=self._reach.records, file_hash=self._reach.last_hash)

    def _rotate_for(self, size: int) -> None:
        """Move a file that *size* more bytes would take past ``max_bytes`` to ``FILE.<n>``."""
        assert self.path is not None
        if not self.max_bytes or not self._reach.records or self.path.stat().st_size + size <= self.max_bytes:
            return
        older = rotated_files(self.path)
        number = int(older[-1].name.rsplit(".", 1)[1]) + 1 if older else 1
        os.replace(self.path, self.path.with_name(f"{self.path.name}.{number}"))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        self._reach = Anchor(0, self._reach.last_hash)
        CURRENT.rotations += 1
        log.info("audit trail %s rotated: the previous records are in %s.%d", self.path, self.path.name, number)

    def _publish(self) -> None:
        CURRENT.records, CURRENT.last_hash = self._reach.records, self._reach.last_hash

    def record(self, action: str, outcome: str, principal: str = "", client: str = "", target: str = "",
               correlation_id: str = "", **details: Any) -> None:
        """Append one event: who (*principal* from *client*) did *action* to *target*, and how it went.

        *target* (a request's path, an attacker's text) is clipped to FIELD_LIMIT characters, so that
        unauthenticated requests cannot fill the disk through the trail.
        """
        if self.path is None:
            return
        with self._lock:
            entry: dict[str, Any] = {
                "time": round(time.time(), 3), "actor": self.actor, "principal": principal, "client": client,
                "action": action, "target": clip_field(target), "outcome": outcome,
                "correlation_id": correlation_id, **details, "prev": self._reach.last_hash,
            }
            entry["hash"] = digest(entry)
            line = canonical(entry)
            try:
                self._rotate_for(len(line) + 1)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
                self._reach = Anchor(self._reach.records + 1, entry["hash"])
                self._reach.write(anchor_path(self.path))
            except OSError as exc:
                CURRENT.write_failures += 1
                log.error("audit record %s not written to %s: %s; serving on unaudited until it can be",
                          action, self.path, exc.strerror)
                return
            self._publish()
            self._send(line)

    def _send(self, line: str) -> None:
        """The record to the off-machine sink as one syslog message (facility auth, severity notice)."""
        if self._sink is None:
            return
        if self._socket is None:
            self._socket = socket.socket(socket.AF_INET6 if ":" in self._sink[0] else socket.AF_INET,
                                         socket.SOCK_DGRAM)
        message = f"<37>1 - {socket.gethostname()} {self.actor} - audit - {line}".encode()
        try:
            self._socket.sendto(message, self._sink)
        except OSError as exc:
            log.error("audit record not sent to %s:%d: %s", *self._sink, exc.strerror)


@dataclass(frozen=True)
class Verdict:
    records: int
    broken_at: int = 0  # 1-based record number of the first broken link; 0: intact
    why: str = ""
    anchor: str = ""  # what the anchor check found ("" when no anchor was given)

    @property
    def intact(self) -> bool:
        return self.broken_at == 0 and self.anchor in ("", "matches its anchor")


def _check(line: str, prev: str) -> str:
    """Why the record on *line* does not hold after *prev* ("" when it does)."""
    try:
        entry = json.loads(line, object_pairs_hook=_no_duplicates)
        stored, linked = entry["hash"], entry["prev"]
    except DuplicateKey as exc:
        return f"not a valid audit record: {exc}"
    except (ValueError, KeyError, TypeError):
        return "not a JSON audit record"
    if line.rstrip("\n") != canonical(entry):
        return "not written as the daemon writes records (keys sorted, no spaces, ASCII escapes only)"
    if digest(entry) != stored:
        return "its content does not match its hash (changed after it was written)"
    if linked != prev:
        return "its prev does not match the record before it (removed or inserted)"
    if entry.get("action") == BREAK:
        return (f"the daemon found its trail did not match its anchor when it started (the file held "
                f"{entry.get('file_records')} record(s), the anchor said {entry.get('anchor_records')})")
    return ""


def verify(path: Path, anchor: Path | None = None) -> Verdict:
    """Walk the chain through the trail's rotated files and then *path*; the first record that does not
    hold, and why; then, with *anchor*, whether *path* reaches exactly as far as its anchor says (a cut
    tail, an emptied file, records added after)."""
    prev = GENESIS
    count = in_file = 0
    files = trail_files(path)
    for file in files:
        with file.open("r", encoding="utf-8", errors="replace") as handle:
            for in_file, line in enumerate(handle, 1):
                count += 1
                why = _check(line, prev)
                if why:
                    where = f" ({file.name}, its record {in_file})" if len(files) > 1 else ""
                    return Verdict(count, count, why + where)
                prev = json.loads(line)["hash"]
        if file != path:
            in_file = 0
    if anchor is None:
        return Verdict(count)
    anchored = Anchor.read(anchor)
    if anchored is None or anchored.records < 0:
        return Verdict(count, anchor=f"its anchor {anchor} is missing or unreadable")
    if in_file == 0 and anchored.records:
        return Verdict(count, anchor=f"the file is empty, its anchor says {anchored.records} record(s)")
    if in_file < anchored.records:
        return Verdict(count, anchor=f"its tail is cut: its anchor says {anchored.records} record(s)")
    if in_file > anchored.records:
        return Verdict(count, anchor=f"records were added after its anchor's {anchored.records}")
    if prev != anchored.last_hash:
        return Verdict(count, anchor="its last record is not the one its anchor names (the file was replaced)")
    return Verdict(count, anchor="matches its anchor")
