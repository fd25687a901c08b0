"""Downloading models into the catalog: one download per model however many ask, resumed with Range.

A download goes to ``<download dir>/<name>.gguf.part``. When the connection breaks, it goes
on from the bytes already on disk with a ``Range`` request (a server that answers 200 instead
of 206 starts it over). The finished file must match the given sha256 before it is renamed
to ``<name>.gguf`` and recorded in the catalog.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx

from rbee.common.errors import RbeeError
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


class Provisioner:
    """Fetches models for a catalog; concurrent asks for one model share one download."""

    def __init__(self, catalog: ModelCatalog, download_dir: Path) -> None:
        self.catalog = catalog
        self.download_dir = download_dir
        self._running: dict[str, asyncio.Task[Download]] = {}

    async def provision(self, name: str, url: str, sha256: str) -> tuple[Download | None, bool]:
        """(the download, whether this call joined one already running); (None, False) if present."""
        if not model_name(name):
            raise RbeeError("INVALID_MODEL_NAME", f"{name!r} is not a model name", 400)
        if self.catalog.path(name) is not None:
            return None, False
        task = self._running.get(name)
        joined = task is not None
        if task is None:
            task = asyncio.get_running_loop().create_task(self._download(name, url, sha256.lower()))
            self._running[name] = task
            task.add_done_callback(lambda _: self._running.pop(name, None))
        return await asyncio.shield(task), joined

    async def _download(self, name: str, url: str, sha256: str) -> Download:
        self.download_dir.mkdir(parents=True, exist_ok=True)
        part = self.download_dir / f"{name}.gguf.part"
        resumed_from: list[int] = []
        requests = 0
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), trust_env=False) as client:
            for attempt in range(1, ATTEMPTS + 1):
                have = part.stat().st_size if part.exists() else 0
                headers = {"Accept-Encoding": "identity"}  # the bytes on disk are the file's own
                if have:
                    headers["Range"] = f"bytes={have}-"
                if have:
                    resumed_from.append(have)
                requests += 1
                try:
                    if await self._fetch(client, url, headers, part):
                        break
                except httpx.HTTPError as exc:
                    log.warning("download of %s broke after %d bytes (attempt %d of %d): %r", name,
                                part.stat().st_size if part.exists() else 0, attempt, ATTEMPTS, exc)
            else:
                raise RbeeError("DOWNLOAD_FAILED", f"{url}: still incomplete after {ATTEMPTS} attempts", 502)
        digest = await asyncio.to_thread(sha256_of, part)
        if digest != sha256:
            part.unlink(missing_ok=True)
            raise RbeeError("CHECKSUM_MISMATCH", f"{name}: sha256 {digest}, expected {sha256}", 502)
        final = self.download_dir / f"{name}.gguf"
        part.replace(final)
        self.catalog.add(name, final)
        log.info("model %s downloaded: %d bytes in %d request(s), resumed from %s", name, final.stat().st_size,
                 requests, resumed_from or "none")
        return Download(name, final, final.stat().st_size, digest, requests, resumed_from)

    @staticmethod
    async def _fetch(client: httpx.AsyncClient, url: str, headers: dict[str, str], part: Path) -> bool:
        """Append the answer's body to *part*; True when the whole file is there."""
        async with client.stream("GET", url, headers=headers) as answer:
            if answer.status_code == 416:  # nothing left to send: the part is whole
                return True
            if answer.status_code not in (200, 206):
                raise RbeeError("DOWNLOAD_FAILED", f"{url} answered HTTP {answer.status_code}", 502)
            mode = "ab" if answer.status_code == 206 else "wb"  # 200: the server starts over
            expected = int(answer.headers.get("Content-Length", "-1"))
            received = 0
            with part.open(mode) as handle:
                async for block in answer.aiter_raw():  # as they come: a break loses nothing received
                    handle.write(block)
                    received += len(block)
            return expected < 0 or received >= expected
