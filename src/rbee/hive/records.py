"""Records of ready workers on disk, so that a hive started after a crash can adopt them."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("rbee.hive.records")


@dataclass(frozen=True)
class WorkerRecord:
    worker_id: str
    model: str
    pid: int
    port: int
    url: str
    started_at: float


class WorkerRecords:
    """One JSON file per ready worker in *directory*, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, record: WorkerRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{record.worker_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        tmp.replace(path)

    def drop(self, worker_id: str) -> None:
        (self.directory / f"{worker_id}.json").unlink(missing_ok=True)

    def load(self) -> list[WorkerRecord]:
        """Every readable record; unreadable files are removed."""
        records = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                records.append(WorkerRecord(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError) as exc:
                log.warning("dropping unreadable worker record %s: %s", path, exc)
                with contextlib.suppress(OSError):
                    path.unlink()
        return records
