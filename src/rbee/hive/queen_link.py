"""The hive's one ordered channel to queen: narration relays and heartbeats, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from typing import Any

import httpx

from rbee.common.narration import Narration
from rbee.common.tls import unverified

log = logging.getLogger("rbee.hive.queen_link")
HEARTBEAT = "heartbeat"
FIRST_CONTACT_S = 0.1
FIRST_CONTACT_TRIES = 50
MAX_BATCH = 100  # narrations relayed in one POST at most
READ_TIMEOUT_S = 5.0  # for queen's answer once it has the request (connecting: 2 s)


def refusal(answer: httpx.Response) -> str:
    """``CODE: message`` of queen's error body (its text, cut short, if it has none)."""
    try:
        error = answer.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return answer.text[:200]


class QueenLink:
    """Sends to queen in the order things happened; a heartbeat is built when sent."""

    def __init__(self, queen_url: str, interval_s: float, heartbeat: Callable[[], dict[str, Any]],
                 max_backoff_s: float = 5.0, auth: httpx.Auth | None = None,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.queen_url = queen_url.rstrip("/")
        self._auth = auth  # the cluster credential, on every heartbeat and narration relay
        self._verify = verify  # queen's certificate is checked against this (HTTPS)
        self._unverified = ""  # why queen's certificate did not verify on the last failed send, if it did not
        self.interval_s = interval_s
        self.max_backoff_s = max(max_backoff_s, interval_s)
        self.failures = 0
        self.reached = False  # queen has answered once: until then it is likely starting, so retry soon
        self._heartbeat = heartbeat
        self._queue: asyncio.Queue[Narration | str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat_queued = False
        self._built = 0  # heartbeat bodies built so far
        self._sent = 0  # of those, posted (or failed to post)
        self._sent_changed = asyncio.Condition()

    async def narrate(self, event: Narration) -> None:
        await self._queue.put(event)

    async def push_heartbeat(self) -> None:
        """Queue a heartbeat unless one is already waiting (it will carry the latest state)."""
        if not self._heartbeat_queued:
            self._heartbeat_queued = True
            await self._queue.put(HEARTBEAT)

    async def push_heartbeat_and_wait(self, timeout_s: float = 5.0) -> None:
        """Push a heartbeat and return once one built after this call has been posted to queen."""
        mark = self._built
        await self.push_heartbeat()
        async with self._sent_changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent_changed.wait_for(lambda: self._sent > mark), timeout_s)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._send_loop()), loop.create_task(self._tick())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def next_delay(self) -> float:
        """The heartbeat interval; while queen is unreachable, doubling per failure up to the cap.

        Until queen has answered once (the two may be starting together), every FIRST_CONTACT_S at
        most, for FIRST_CONTACT_TRIES failed tries; then the backoff as usual.
        """
        if not self.reached and self.failures < FIRST_CONTACT_TRIES:
            return min(self.interval_s, FIRST_CONTACT_S)
        if self.failures == 0:
            return self.interval_s
        return float(min(self.interval_s * 2 ** min(self.failures, 16), self.max_backoff_s))

    async def _tick(self) -> None:
        while True:
            await self.push_heartbeat()
            await asyncio.sleep(self.next_delay())

    async def _send_loop(self) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(2.0, read=READ_TIMEOUT_S), auth=self._auth, trust_env=False,
                                     verify=self._verify) as client:
            while True:
                for item in await self._take():
                    if item == HEARTBEAT:
                        await self._send_heartbeat(client)
                    else:
                        await self._post(client, "/v1/narration", {"events": item})

    async def _take(self) -> list[str | list[dict[str, Any]]]:
        """What is queued, in order, with each run of narrations as one batch (a heartbeat never waits
        behind one POST per narration: under load a hive relays hundreds a second)."""
        items: list[Narration | str] = [await self._queue.get()]
        while not self._queue.empty() and len(items) < MAX_BATCH:
            items.append(self._queue.get_nowait())
        taken: list[str | list[dict[str, Any]]] = []
        for item in items:
            if isinstance(item, Narration):
                if taken and isinstance(taken[-1], list):
                    taken[-1].append(item.to_dict())
                else:
                    taken.append([item.to_dict()])
            else:
                taken.append(item)
        return taken

    async def _send_heartbeat(self, client: httpx.AsyncClient) -> None:
        self._heartbeat_queued = False
        self._built += 1
        await self._post(client, "/v1/hive-heartbeat", self._heartbeat())
        async with self._sent_changed:
            self._sent += 1
            self._sent_changed.notify_all()

    async def _post(self, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
        try:
            answer = await client.post(self.queen_url + path, json=body)
            if answer.status_code == 409:  # queen heard us and refuses: say why, and go on at the usual pace
                log.error("queen refuses this hive's %s: %s", path, refusal(answer))
            elif answer.status_code in (401, 403):  # its credential: say so once, then back off as if unreachable
                if self.failures == 0:
                    log.error("queen refuses this hive's credential on %s (%d %s); check --queen-token-file or "
                              "--cluster-token-file (retrying with backoff)", path, answer.status_code,
                              refusal(answer))
                self.failures += 1
                return
            else:
                answer.raise_for_status()
        except httpx.ReadTimeout:
            # queen took the request and is slow to answer (busy, not gone): no backoff, which would leave it
            # without a heartbeat for twice as long; the next one goes at the usual pace
            log.warning("queen at %s slow to answer %s (over %g s); sending on at the usual pace", self.queen_url,
                        path, READ_TIMEOUT_S)
            return
        except httpx.HTTPError as exc:
            why = unverified(exc)
            if why and why != self._unverified:  # said once, even after failures of another kind (queen starting)
                log.error("cannot verify queen's certificate at %s: %s; check queen's --tls-cert and this hive's "
                          "--tls-ca (retrying with backoff)", self.queen_url, why)
            elif self.failures == 0 and not why:
                log.warning("queen at %s unreachable (%s): %s; retrying with backoff", self.queen_url, path, exc)
            self._unverified = why
            self.failures += 1
            return
        self._unverified = ""
        if self.failures:
            log.info("queen at %s reachable again after %d failed send(s)", self.queen_url, self.failures)
        self.failures = 0
        self.reached = True
