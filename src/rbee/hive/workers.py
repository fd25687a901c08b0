"""Worker processes of one hive: spawn, capture narration, track readiness and exit, stop."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import shutil
import signal
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from rbee.common.narration import Narration, parse_line
from rbee.common.scrub import scrub_paths
from rbee.hive.cgroups import CgroupError, Limits
from rbee.hive.monitor import ProcessMonitor
from rbee.hive.records import WorkerRecord, WorkerRecords
from rbee.hive.worker_env import WorkerCredential, worker_environment

log = logging.getLogger("rbee.hive.workers")
ACTOR = "rbee-hive"

Narrate = Callable[[Narration], Awaitable[None]]
Changed = Callable[[], Awaitable[None]]
Flush = Callable[[float], Awaitable[None]]  # returns once what was narrated before reached queen (or the bound)
LAST_WORDS_S = 2.0  # how long a worker that ended unexpectedly may take to have its last lines relayed


async def no_flush(_timeout_s: float) -> None:
    """Nothing to wait for: no queen link."""


@dataclass
class SpawnSettings:
    """How this hive starts workers."""

    command: list[str]
    bind_host: str
    advertise_host: str
    run_dir: Path
    load_timeout_s: float = 120.0
    stop_grace_s: float = 10.0
    group: str = "llm"
    max_workers: int = 0  # 0 = no limit
    state_dir: Path | None = None  # where worker records are kept for a restarted hive to adopt
    health_interval_s: float = 5.0  # how often each ready worker's /v1/ready is asked
    idle_timeout_s: float = 0.0  # a worker whose /v1/ready says idle this long is stopped (0: never)
    unhealthy_after: int = 2  # failed health checks in a row before a worker is unhealthy
    remove_after: int = 10  # failed health checks in a row before a worker is killed and removed (0: never)
    env_names: tuple[str, ...] = ()  # variables of the hive's environment workers get beside the standard ones
    scheme: str = "http"  # the workers serve HTTPS ("https") when the hive does, with its certificate
    verify: ssl.SSLContext | bool = True  # what the hive's calls to its workers verify them with


@dataclass
class Worker:
    """What the hive knows about one worker process."""

    worker_id: str
    model: str
    job_id: str
    correlation_id: str
    pid: int = 0
    port: int = 0
    url: str = ""
    state: str = "starting"  # starting → ready ⇄ unhealthy → stopping → exited | failed
    error: str = ""
    error_code: str = ""  # WORKER_START_TIMEOUT, WORKER_UNHEALTHY: why the hive ended it
    exit_code: int | None = None
    oom_killed: bool = False  # SIGKILLed by the kernel's OOM killer, by the cgroup's own counter
    started_at: float = field(default_factory=time.time)
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)  # None: adopted
    last_line: str = field(default="", repr=False)
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)  # set once it has ended
    output_read: asyncio.Event = field(default_factory=asyncio.Event, repr=False)  # its stdout reached its end
    credential_generation: int = 0  # the WorkerCredential generation it was started under or told of

    def to_heartbeat(self) -> dict[str, Any]:
        """What queen needs beside the ProcessStats (which carry pid, uptime and usage).

        The port, not the URL: a worker listens on its hive's host, which queen knows.
        """
        record = {"worker_id": self.worker_id, "model": self.model, "port": self.port, "state": self.state}
        return {**record, "error": self.error} if self.error else record

    def record(self) -> WorkerRecord:
        return WorkerRecord(self.worker_id, self.model, self.pid, self.port, self.url, self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id, "model": self.model, "pid": self.pid, "port": self.port,
            "url": self.url, "state": self.state, "error": self.error, "error_code": self.error_code,
            "exit_code": self.exit_code,
            "oom_killed": self.oom_killed,
            "uptime_s": round(time.time() - self.started_at, 3),
        }


class WorkerProgramMissing(Exception):
    """The worker program cannot be run (gone, or not executable); nothing was started."""


def program_problem(program: str) -> str:
    """Why *program* cannot be run now, or "" when it can."""
    if os.sep not in program:
        return "" if shutil.which(program) else f"worker program {program!r} not found (or not executable) on PATH"
    if not os.path.isfile(program):
        return f"worker program {program} not found"
    if not os.access(program, os.X_OK):
        return f"worker program {program} is not executable"
    return ""


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def signal_pid(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def is_worker_process(pid: int, worker_id: str) -> bool:
    """Whether *pid* still runs the worker *worker_id* (and not another process that got its pid)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and worker_id in process.cmdline()
    except psutil.Error:
        return False


async def wait_gone(pid: int, poll_s: float = 0.1) -> None:
    """Until *pid* has ended (it is not our child: it is polled)."""
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        await asyncio.sleep(poll_s)


class WorkerManager:
    """Spawns and stops workers and keeps their state; reports every change."""

    def __init__(self, settings: SpawnSettings, monitor: ProcessMonitor, narrate: Narrate,
                 changed: Changed, auth: httpx.Auth | None = None,
                 credential: WorkerCredential | None = None, flush: Flush | None = None) -> None:
        self.settings = settings
        self._auth = auth  # the cluster credential, on every request to a worker
        self.credential = credential  # the file the workers read the cluster credential from
        self.monitor = monitor
        self._narrate = narrate
        self._changed = changed
        self._flush = flush or no_flush  # until what was narrated so far has reached queen
        self.live: dict[str, Worker] = {}
        self.ended: dict[str, Worker] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # spawn, start_timeout, oom_kill, unhealthy_removal: how often each happened (for /metrics)
        self.happened: collections.Counter[str] = collections.Counter()
        self._serial = 0
        self._prefix = secrets.token_hex(3)  # worker ids stay unique across hives (in containers all have pid 7)
        self._http: httpx.AsyncClient | None = None
        self._health: asyncio.Task[None] | None = None
        self.records = WorkerRecords(settings.state_dir / "workers") if settings.state_dir else None

    def _client(self) -> httpx.AsyncClient:
        """One client for all readiness polls: making one costs ~50 ms of CPU (its TLS context)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=2.0, trust_env=False, auth=self._auth, verify=self.settings.verify)
        return self._http

    def get(self, worker_id: str) -> Worker | None:
        return self.live.get(worker_id) or self.ended.get(worker_id)

    def background_tasks(self) -> int:
        """Tasks watching workers now (for /metrics)."""
        return len(self._tasks)

    async def spawn(self, model: str, model_path: Path, job_id: str, correlation_id: str,
                    limits: Limits, extra_env: dict[str, str] | None = None) -> Worker:
        """Start a worker process for *model* in its own cgroup; returns at once with state ``starting``.

        Raises WorkerProgramMissing, CgroupError or OSError when it cannot start; nothing is left
        behind then (no cgroup, no record, no worker id used).
        """
        if problem := program_problem(self.settings.command[0]):
            raise WorkerProgramMissing(problem)
        self._serial += 1
        worker_id = f"worker-{self._prefix}-{self._serial}"
        worker = Worker(worker_id, model, job_id, correlation_id,
                        credential_generation=self.credential.generation if self.credential else 0)
        port_file = self.settings.run_dir / f"{worker_id}.port"
        args = [*self.settings.command, "--model", str(model_path), "--worker-id", worker_id,
                "--host", self.settings.bind_host, "--port", "0", "--port-file", str(port_file)]
        env = worker_environment(os.environ, self.settings.env_names, {
            **(extra_env or {}), "JOB_ID": job_id, "CORRELATION_ID": correlation_id, "WORKER_ID": worker_id})
        try:
            join = self.monitor.prepare(self.settings.group, worker_id, limits)
            worker.process = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True, preexec_fn=join,
            )
        except (OSError, CgroupError) as exc:
            self.monitor.release(self.settings.group, worker_id)
            if isinstance(exc, FileNotFoundError | PermissionError):  # it went between the check and the exec
                raise WorkerProgramMissing(f"worker program {self.settings.command[0]}: {exc.strerror}") from None
            raise
        worker.pid = worker.process.pid
        self.happened["spawn"] += 1
        self.monitor.track(self.settings.group, worker_id, worker.pid)
        self.live[worker_id] = worker
        log.info("spawned %s pid=%d model=%s correlation_id=%s", worker_id, worker.pid, model, correlation_id)
        await self._changed()  # the state change first: queen and the UI learn of the worker at once
        await self._narrate(Narration(ACTOR, "worker_spawn", f"spawning {worker_id} for model {model}",
                                      target=worker_id, job_id=job_id, correlation_id=correlation_id))
        for coro in (self._capture_stdout(worker), self._capture_stderr(worker),
                     self._await_ready(worker, port_file), self._await_exit(worker)):
            self._in_background(coro)
        return worker

    async def _capture_stdout(self, worker: Worker) -> None:
        """ProcessNarrationCapture: relay ``[actor] action : message`` lines, log the rest."""
        try:
            await self._relay_stdout(worker)
        finally:
            worker.output_read.set()

    async def _relay_stdout(self, worker: Worker) -> None:
        assert worker.process is not None and worker.process.stdout is not None
        async for raw in worker.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            parsed = parse_line(line)
            log.info("%s stdout: %s", worker.worker_id, line)
            if parsed is None:
                continue
            actor, action, human = parsed
            if action == "model_load_failed":
                worker.error = scrub_paths(human)  # queen shows it to clients; the log keeps the line whole
            await self._narrate(Narration(actor, action, human, target=worker.worker_id,
                                          job_id=worker.job_id, correlation_id=worker.correlation_id))

    async def _capture_stderr(self, worker: Worker) -> None:
        assert worker.process is not None and worker.process.stderr is not None
        async for raw in worker.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                worker.last_line = line
                log.info("%s stderr: %s", worker.worker_id, line)

    async def _await_ready(self, worker: Worker, port_file: Path) -> None:
        deadline = time.monotonic() + self.settings.load_timeout_s
        client = self._client()
        while worker.state == "starting" and time.monotonic() < deadline:
            if not worker.port and port_file.exists():
                worker.port = int(port_file.read_text().strip() or 0)
                worker.url = f"{self.settings.scheme}://{self.settings.advertise_host}:{worker.port}"
            if worker.port:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    answer = await client.get(f"{self._local_url(worker.port)}/v1/ready")
                    if answer.status_code == 200 and answer.json().get("state") in ("ready", "busy"):
                        await self._mark_ready(worker)
                        return
            await asyncio.sleep(0.05)
        if worker.state == "starting":
            worker.error = f"not ready within {self.settings.load_timeout_s:g} s: stopped"
            worker.error_code = "WORKER_START_TIMEOUT"
            self.happened["start_timeout"] += 1
            log.warning("%s not ready within %g s: stopping it", worker.worker_id, self.settings.load_timeout_s)
            await self._narrate(Narration(ACTOR, "worker_start_timeout", f"{worker.worker_id} {worker.error}",
                                          target=worker.worker_id, job_id=worker.job_id,
                                          correlation_id=worker.correlation_id))
            await self.stop(worker.worker_id)

    def _local_url(self, port: int) -> str:
        """Where the hive reaches a worker on its own machine (over TLS, 127.0.0.1 is in its certificate)."""
        host = self.settings.bind_host
        return f"{self.settings.scheme}://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"

    def rotate_credential(self, token: str) -> None:
        """After SIGHUP: the cluster credential in force goes into the workers' file, and every serving
        worker is told to read it again (a starting one is told once it serves: before, a SIGHUP would
        find no handler and end it)."""
        if self.credential is None or not token or not self.credential.write(token):
            return
        log.warning("cluster credential changed: telling %d worker(s) to read it again", len(self.live))
        for worker in self.live.values():
            self._tell_credential(worker)

    def _tell_credential(self, worker: Worker) -> None:
        if self.credential is None or worker.process is None or worker.state not in ("ready", "unhealthy"):
            return  # an adopted worker reads the file of the hive that started it
        if worker.credential_generation < self.credential.generation:
            worker.credential_generation = self.credential.generation
            signal_pid(worker.pid, signal.SIGHUP)

    async def _mark_ready(self, worker: Worker) -> None:
        worker.state = "ready"
        self._tell_credential(worker)  # rotated while it started
        if self.records is not None:
            self.records.save(worker.record())
        log.info("%s ready on port %d", worker.worker_id, worker.port)
        await self._narrate(Narration(ACTOR, "worker_ready", f"{worker.worker_id} ready at {worker.url}",
                                      target=worker.worker_id, job_id=worker.job_id,
                                      correlation_id=worker.correlation_id))
        await self._changed()

    async def adopt(self) -> list[str]:
        """Take over the ready workers a previous hive left running (it crashed); returns their ids.

        A worker is adopted when its record's pid is still that worker and it answers /v1/ready.
        Its narration is not relayed any more (its stdout went to the old hive), and its exit
        code cannot be known (it is not this hive's child).
        """
        if self.records is None:
            return []
        adopted = []
        for record in self.records.load():
            worker = Worker(record.worker_id, record.model, "", "", pid=record.pid, port=record.port,
                            url=record.url, started_at=record.started_at)
            if is_worker_process(record.pid, record.worker_id) and await self._answers(worker):
                worker.state = "ready"
                self.live[worker.worker_id] = worker
                self.monitor.track(self.settings.group, worker.worker_id, worker.pid)
                self._in_background(self._await_exit(worker))
                adopted.append(worker.worker_id)
                log.warning("adopted %s (pid %d, port %d) left running by a previous hive", worker.worker_id,
                            worker.pid, worker.port)
            else:
                self.records.drop(record.worker_id)
        if adopted:
            await self._changed()
        return adopted

    def _in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run *coro* as a task kept referenced until it is done, as asyncio requires."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_health_checks(self) -> None:
        self._health = asyncio.get_running_loop().create_task(self._check_health())

    async def _check_health(self) -> None:
        """Ask every ready or unhealthy worker's /v1/ready; mark it unhealthy after failures in a row,
        kill and remove it after more."""
        failures: dict[str, int] = {}
        while True:
            await asyncio.sleep(self.settings.health_interval_s)
            watched = [w for w in self.live.values() if w.state in ("ready", "unhealthy") and w.port]
            reports = await asyncio.gather(*(self._ready_report(w) for w in watched))
            for worker, report in zip(watched, reports, strict=True):
                if worker.state not in ("ready", "unhealthy"):
                    continue  # stopped or ended while it was asked
                healthy = report is not None
                if report is not None and self._idle_too_long(worker, report):
                    self._in_background(self._stop_idle(worker, float(report["idle_s"])))
                    continue
                failures[worker.worker_id] = 0 if healthy else failures.get(worker.worker_id, 0) + 1
                if self.settings.remove_after and failures[worker.worker_id] >= self.settings.remove_after:
                    worker.state = "stopping"  # no other check or job takes it from here
                    self._in_background(self._remove_unhealthy(worker, failures[worker.worker_id]))
                elif healthy and worker.state == "unhealthy":
                    worker.state = "ready"
                    log.warning("%s answers its health check again: ready", worker.worker_id)
                    await self._changed()
                elif failures[worker.worker_id] >= self.settings.unhealthy_after and worker.state == "ready":
                    worker.state = "unhealthy"
                    log.warning("%s failed %d health checks in a row: unhealthy", worker.worker_id,
                                failures[worker.worker_id])
                    await self._changed()
            for gone in set(failures) - set(self.live):
                del failures[gone]

    async def _remove_unhealthy(self, worker: Worker, failed: int) -> None:
        """Kill a worker that failed its health checks too often (it may be hung: no SIGTERM grace)."""
        worker.error = f"failed {failed} health checks in a row: killed and removed"
        worker.error_code = "WORKER_UNHEALTHY"
        self.happened["unhealthy_removal"] += 1
        log.warning("%s %s", worker.worker_id, worker.error)
        await self._narrate(Narration(ACTOR, "worker_unhealthy_removed", f"{worker.worker_id} {worker.error}",
                                      target=worker.worker_id, job_id=worker.job_id,
                                      correlation_id=worker.correlation_id))
        await self._changed()
        self._kill(worker)
        await worker.done.wait()

    def _kill(self, worker: Worker) -> None:
        """SIGKILL the worker, and whatever it started, which may hold its output pipes open: its
        process group, then anything left in its cgroup (its exit is seen once those pipes close)."""
        signal_pid(worker.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.pid, signal.SIGKILL)
        self.monitor.kill_all(self.settings.group, worker.worker_id)

    async def busy(self) -> list[str]:
        """The live workers whose ``/v1/ready`` says they are running a job now."""
        watched = [w for w in self.live.values() if w.state in ("ready", "unhealthy") and w.port]
        reports = await asyncio.gather(*(self._ready_report(w) for w in watched))
        return [w.worker_id for w, r in zip(watched, reports, strict=True)
                if r is not None and r.get("state") == "busy"]

    async def _answers(self, worker: Worker) -> bool:
        return await self._ready_report(worker) is not None

    async def _ready_report(self, worker: Worker) -> dict[str, Any] | None:
        """The worker's ``/v1/ready`` answer, or None when it does not answer (in time, or well)."""
        timeout = min(1.0, self.settings.health_interval_s)
        try:
            answer = await self._client().get(f"{self._local_url(worker.port)}/v1/ready", timeout=timeout)
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        try:  # healthy whatever the body; what it reports counts only if it is a JSON object
            report = answer.json()
        except ValueError:
            return {}
        return report if isinstance(report, dict) else {}

    def _idle_too_long(self, worker: Worker, report: dict[str, Any]) -> bool:
        """Ready, and by its own count idle for the idle timeout (a worker that does not count: never)."""
        idle = report.get("idle_s")
        return bool(self.settings.idle_timeout_s) and worker.state == "ready" and report.get("state") == "ready" \
            and isinstance(idle, int | float) and idle >= self.settings.idle_timeout_s

    async def _stop_idle(self, worker: Worker, idle_s: float) -> None:
        log.warning("%s idle for %.1f s (--worker-idle-timeout %g): stopping it", worker.worker_id, idle_s,
                    self.settings.idle_timeout_s)
        await self._narrate(Narration(ACTOR, "worker_idle_stop", f"{worker.worker_id} idle for {idle_s:.0f} s: "
                                      "stopping it", target=worker.worker_id, job_id=worker.job_id,
                                      correlation_id=worker.correlation_id))
        await self.stop(worker.worker_id)

    async def _await_exit(self, worker: Worker) -> None:
        if worker.process is not None:
            code: int | None = await worker.process.wait()
            if worker.state != "stopping":  # its last words (model_load_failed, say) reach queen before its end
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worker.output_read.wait(), LAST_WORDS_S)
                await self._flush(LAST_WORDS_S)
        else:
            await wait_gone(worker.pid)
            code = None
        worker.exit_code = code
        how = "exit code unknown: an adopted worker is not this hive's child" if code is None else describe_exit(code)
        oom_kills = self.monitor.oom_kills(self.settings.group, worker.worker_id)
        if code == -signal.SIGKILL and oom_kills:
            worker.oom_killed = True
            self.happened["oom_kill"] += 1
            how = f"{how}, by the kernel's OOM killer (the cgroup's oom_kill counter is {oom_kills})"
        if worker.state == "stopping" and not worker.error:
            worker.state = "exited"
        else:
            last_words = f": {scrub_paths(worker.last_line)}" if worker.state == "starting" and worker.last_line else ""
            worker.error = worker.error or f"worker exited unexpectedly ({how}){last_words}"
            worker.state = "failed"
        log.info("%s exited (%s) state=%s", worker.worker_id, how, worker.state)
        self.live.pop(worker.worker_id, None)
        self.ended[worker.worker_id] = worker
        while len(self.ended) > 256:
            self.ended.pop(next(iter(self.ended)))
        (self.settings.run_dir / f"{worker.worker_id}.port").unlink(missing_ok=True)
        if self.records is not None:
            self.records.drop(worker.worker_id)
        self.monitor.release(self.settings.group, worker.worker_id)
        worker.done.set()
        await self._changed()

    async def stop(self, worker_id: str) -> Worker | None:
        """SIGTERM, then SIGKILL after the grace period; returns once the worker has ended."""
        worker = self.live.get(worker_id)
        if worker is None:
            return self.ended.get(worker_id)
        worker.state = "stopping"
        signal_pid(worker.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.done.wait(), self.settings.stop_grace_s)
        except TimeoutError:
            log.warning("%s ignored SIGTERM for %.0f s, killing", worker_id, self.settings.stop_grace_s)
            self._kill(worker)
            await worker.done.wait()
        return worker

    async def stop_all(self) -> list[Worker]:
        """Stop every live worker at once; returns them, ended."""
        stopped = await asyncio.gather(*(self.stop(w) for w in list(self.live)))
        return [w for w in stopped if w is not None]

    async def close(self) -> None:
        if self._health is not None:
            self._health.cancel()
        await self.stop_all()
        if self._http is not None:
            await self._http.aclose()
