"""The hive's model catalog: a SQLite table of the GGUF models it can serve.

The catalog is rebuilt from the model files present at start. A catalog found corrupt
(at start by SQLite's integrity check, or later by any query) is moved aside to
``<file>.corrupt.backup``, the error is logged once, and a new one is rebuilt from the files.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("rbee.hive.catalog")

SCHEMA = """CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    added_at REAL NOT NULL
)"""


def model_name(name: str) -> bool:
    """A name that cannot leave its directory."""
    return bool(name) and "/" not in name and not name.startswith(".")


class ModelCatalog:
    """Models by name: ``<dir>/<name>.gguf`` in any of *model_dirs*, recorded in *db_path*."""

    def __init__(self, model_dirs: list[Path], db_path: Path) -> None:
        self.model_dirs = model_dirs
        self.db_path = db_path
        self.recoveries = 0
        self._lock = threading.Lock()

    def open(self) -> None:
        """Check the catalog's integrity, recover it if corrupt, and record the files present."""
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {verdict}")
        except sqlite3.DatabaseError as exc:
            self._recover(str(exc))
        self.rescan()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=5.0)
        try:
            with db:
                db.execute(SCHEMA)
                yield db
        finally:
            db.close()

    def _recover(self, reason: str) -> None:
        """Move the corrupt file aside and start a new catalog (the caller rebuilds it)."""
        backup = self.db_path.with_name(self.db_path.name + ".corrupt.backup")
        if backup.exists():
            backup = backup.with_name(f"{backup.name}.{int(time.time())}")
        with contextlib.suppress(FileNotFoundError):
            self.db_path.replace(backup)
        for extra in ("-journal", "-wal", "-shm"):
            self.db_path.with_name(self.db_path.name + extra).unlink(missing_ok=True)
        self.recoveries += 1
        log.error("model catalog %s is corrupt (%s): moved aside to %s; rebuilding it from the model files",
                  self.db_path, reason, backup)

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run *sql*; a corrupt catalog is recovered and rebuilt once, then the query runs again."""
        with self._lock:
            try:
                with self._connect() as db:
                    return list(db.execute(sql, args).fetchall())
            except sqlite3.DatabaseError as exc:
                self._recover(str(exc))
                self._rescan_locked()
                with self._connect() as db:
                    return list(db.execute(sql, args).fetchall())

    def rescan(self) -> None:
        """Record every model file present and forget entries whose file is gone."""
        with self._lock:
            try:
                self._rescan_locked()
            except sqlite3.DatabaseError as exc:
                self._recover(str(exc))
                self._rescan_locked()

    def _rescan_locked(self) -> None:
        present: dict[str, Path] = {}
        for directory in self.model_dirs:
            for path in sorted(directory.glob("*.gguf")):
                if path.is_file() and model_name(path.stem):
                    present.setdefault(path.stem, path)
        with self._connect() as db:
            known = {str(row[0]) for row in db.execute("SELECT name FROM models")}
            db.executemany("DELETE FROM models WHERE name = ?", [(name,) for name in known - set(present)])
            for name, path in present.items():
                db.execute("INSERT INTO models (name, path, size, added_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(name) DO UPDATE SET path = excluded.path, size = excluded.size",
                           (name, str(path), path.stat().st_size, time.time()))

    def add(self, name: str, path: Path) -> None:
        self._query("INSERT INTO models (name, path, size, added_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET path = excluded.path, size = excluded.size",
                    (name, str(path), path.stat().st_size, time.time()))

    def names(self) -> list[str]:
        return [str(row[0]) for row in self._query("SELECT name FROM models ORDER BY name")]

    def path(self, name: str) -> Path | None:
        if not model_name(name):
            return None
        rows = self._query("SELECT path FROM models WHERE name = ?", (name,))
        candidate = Path(str(rows[0][0])) if rows else None
        return candidate if candidate is not None and candidate.is_file() else None
