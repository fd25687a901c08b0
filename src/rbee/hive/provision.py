"""Downloading models into the catalog: one download per model however many ask, resumed with Range.

A download goes to ``<download dir>/<name>.gguf.part``. When the connection breaks, it goes
on from the bytes already on disk with a ``Range`` request (a server that answers 200 instead
of 206 starts it over); a part left by a hive that crashed is resumed the same way by the next
attempt. The finished file must match the given sha256 before it is renamed to
``<name>.gguf`` and recorded in the catalog; a file that does not is deleted, so the next
attempt downloads it again. Each download's progress (bytes, total, percent) is an event log
its askers may follow: an event at every 10 % crossed and at the end.

Failures, each with its own code: the hub answers 404 (``MODEL_NOT_FOUND_UPSTREAM``) or 401/403
(``UPSTREAM_FORBIDDEN``); no byte arrives for the stall bound (``DOWNLOAD_STALLED``, the part
kept for a resume); the file's announced size does not fit the free space
(``INSUFFICIENT_DISK``, before a byte is written); the disk fills while writing (``DISK_FULL``,
the part removed). The catalog changes only when a download succeeds.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rbee.common.errors import RbeeError
from rbee.common.events import DONE, EventLog, error_marker
from rbee.common.scrub import scrub
from rbee.hive.models import ModelCatalog, model_name

log = logging.getLogger("rbee.hive.provision")
ATTEMPTS = 4


@dataclass(frozen=True)
class Download:
    """What one finished download did."""

    name: str
    path: Path
    size: int
    sha256: str
    requests: int
    resumed_from: list[int]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Progress:
    """Where one download stands; ``events`` has a ``progress`` event at every 10 % crossed and at
    the end, then ``[DONE]`` or ``[ERROR] CODE: message``."""

    received: int = 0  # bytes of the file on disk
    total: int = 0  # the file's size, once the hub said it (0: not known)
    reported: int = -1  # the last 10 % step reported
    events: EventLog = field(default_factory=EventLog)

    def body(self) -> dict[str, Any]:
        percent = round(100 * self.received / self.total, 1) if self.total else None
        return {"bytes": self.received, "total": self.total or None, "percent": percent}

    async def advance(self, received: int, total: int | None = None, final: bool = False) -> None:
        self.received = received
        if total is not None:
            self.total = total
        step = int(10 * self.received / self.total) if self.total else 0
        if final or step > self.reported:
            self.reported = step
            await self.events.append("progress", self.body())


class Provisioner:
    """Fetches models for a catalog; concurrent asks for one model share one download."""

    def __init__(self, catalog: ModelCatalog, download_dir: Path, stall_timeout_s: float = 30.0,
                 installed: Callable[[], Awaitable[None]] | None = None) -> None:
        self.catalog = catalog
        self.download_dir = download_dir
        self.stall_timeout_s = stall_timeout_s
        self._installed = installed  # awaited once a model is in the catalog, before its askers hear of it
        self._running: dict[str, tuple[asyncio.Task[Download], Progress]] = {}

    async def provision(self, name: str, url: str, sha256: str) -> tuple[Download | None, bool]:
        """(the download, whether this call joined one already running); (None, False) if present."""
        started = self.start(name, url, sha256)
        if started is None:
            return None, False
        task, _, joined = started
        return await asyncio.shield(task), joined

    def start(self, name: str, url: str, sha256: str) -> tuple[asyncio.Task[Download], Progress, bool] | None:
        """The download of *name*, started or joined: (task, progress, joined); None if the model is present."""
        if not model_name(name):
            raise RbeeError("INVALID_MODEL_NAME", f"{name!r} is not a model name", 400)
        if self.catalog.path(name) is not None:
            return None
        running = self._running.get(name)
        if running is not None:
            return running[0], running[1], True
        progress = Progress()
        task = asyncio.get_running_loop().create_task(self._download(name, url, sha256.lower(), progress))
        self._running[name] = (task, progress)
        task.add_done_callback(lambda _: self._running.pop(name, None))
        return task, progress, False

    async def _download(self, name: str, url: str, sha256: str, progress: Progress) -> Download:
        try:
            done = await self._fetch_checked(name, url, sha256, progress)
        except RbeeError as exc:
            await progress.events.close(error_marker(exc.code, scrub(exc.message)))
            raise
        except Exception as exc:
            await progress.events.close(error_marker("DOWNLOAD_FAILED", scrub(repr(exc))))
            raise
        if self._installed is not None:
            await self._installed()
        await progress.advance(done.size, done.size, final=True)
        await progress.events.append("done", {"name": name, "size": done.size, "sha256": done.sha256,
                                              "requests": done.requests, "resumed_from": done.resumed_from})
        await progress.events.close(DONE)
        return done

    async def _fetch_checked(self, name: str, url: str, sha256: str, progress: Progress) -> Download:
        self.download_dir.mkdir(parents=True, exist_ok=True)
        part = self.download_dir / f"{name}.gguf.part"
        resumed_from: list[int] = []
        requests = 0
        timeout = httpx.Timeout(30.0, read=self.stall_timeout_s)  # a read that waits this long: stalled
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            for attempt in range(1, ATTEMPTS + 1):
                have = part.stat().st_size if part.exists() else 0
                headers = {"Accept-Encoding": "identity"}  # the bytes on disk are the file's own
                if have:
                    headers["Range"] = f"bytes={have}-"
                if have:
                    resumed_from.append(have)
                requests += 1
                try:
                    if await self._fetch(client, url, headers, part, progress):
                        break
                except httpx.ReadTimeout:
                    raise RbeeError("DOWNLOAD_STALLED", f"no byte of {name} from {url} for {self.stall_timeout_s:g} s "
                                    "(the part is kept for the next attempt)", 504) from None
                except httpx.HTTPError as exc:
                    log.warning("download of %s broke after %d bytes (attempt %d of %d): %r", name,
                                part.stat().st_size if part.exists() else 0, attempt, ATTEMPTS, exc)
            else:
                raise RbeeError("DOWNLOAD_FAILED", f"{url}: still incomplete after {ATTEMPTS} attempts", 502)
        digest = await asyncio.to_thread(sha256_of, part)
        if digest != sha256:
            part.unlink(missing_ok=True)
            log.warning("download of %s: sha256 %s, expected %s: removed", name, digest, sha256)
            # the caller is not told the digest: it would tell what any URL answered
            raise RbeeError("CHECKSUM_MISMATCH", f"{name}: the file's sha256 is not the one asked for; "
                            "it is removed", 502)
        final = self.download_dir / f"{name}.gguf"
        part.replace(final)
        self.catalog.add(name, final)
        log.info("model %s downloaded: %d bytes in %d request(s), resumed from %s", name, final.stat().st_size,
                 requests, resumed_from or "none")
        return Download(name, final, final.stat().st_size, digest, requests, resumed_from)

    async def _fetch(self, client: httpx.AsyncClient, url: str, headers: dict[str, str], part: Path,
                     progress: Progress) -> bool:
        """Append the answer's body to *part*; True when the whole file is there."""
        async with client.stream("GET", url, headers=headers) as answer:
            if answer.status_code == 416:  # nothing left to send: the part is whole
                return True
            refuse_upstream(url, answer.status_code)
            resuming = answer.status_code == 206
            mode = "ab" if resuming else "wb"  # 200: the server starts over
            have = part.stat().st_size if resuming and part.exists() else 0
            expected = int(answer.headers.get("Content-Length", "-1"))
            if expected >= 0:
                self._check_space(part, expected)
            await progress.advance(have, have + expected if expected >= 0 else None)
            received = 0
            try:
                with part.open(mode) as handle:
                    async for block in answer.aiter_raw():  # as they come: a break loses nothing received
                        handle.write(block)
                        received += len(block)
                        await progress.advance(have + received)
                    handle.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                part.unlink(missing_ok=True)
                name = part.name.removesuffix(".part")
                raise RbeeError("DISK_FULL", f"the disk of {self.download_dir} filled after {have + received} "
                                f"bytes of {name}: the partial file is removed", 507) from None
            return expected < 0 or received >= expected

    def _check_space(self, part: Path, needed: int) -> None:
        """INSUFFICIENT_DISK, before a byte is written, when *needed* more bytes do not fit."""
        free = shutil.disk_usage(self.download_dir).free
        if needed > free:
            if not part.exists() or part.stat().st_size == 0:
                part.unlink(missing_ok=True)
            raise RbeeError("INSUFFICIENT_DISK", f"{part.name.removesuffix('.part')} needs {needed} bytes more, "
                            f"the models directory has {free} bytes free", 507)


def refuse_upstream(url: str, status: int) -> None:
    """The error of a hub's answer that is not the file: its own code for 404 and 401/403."""
    if status in (200, 206):
        return
    if status == 404:
        raise RbeeError("MODEL_NOT_FOUND_UPSTREAM", f"{url} answered HTTP 404: the hub has no such file", 502)
    if status in (401, 403):
        raise RbeeError("UPSTREAM_FORBIDDEN", f"{url} answered HTTP {status}: the hub refuses this hive", 502)
    raise RbeeError("DOWNLOAD_FAILED", f"{url} answered HTTP {status}", 502)
