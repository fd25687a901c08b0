"""The invariants a chaos run's history must hold, checked after the run from the history alone.

1. ``one-end``: every accepted job reaches exactly one terminal marker;
2. ``ended-in-time``: within its deadline (or the default bound) plus a grace, or within a grace
   after the last heal;
3. ``token-order``: each job's tokens arrive with indexes 0, 1, 2, … — none lost, repeated or
   reordered;
4. ``done-is-reference``: the tokens of a ``[DONE]`` job are, byte for byte, the fault-free
   completion of its (model, prompt, seed, max_tokens);
5. ``prefix-of-reference``: the tokens of an ``[ERROR]`` or ``[CANCELLED]`` job are a prefix of it;
6. ``marker-on-stream``: a job read to its end (or cancelled) gets its marker on its stream;
7. ``no-retry-after-first-token``: queen never narrates ``job_retry`` for a job after its first token;
8. ``no-job-while-shutting-down``: no job is accepted after queen began to shut down;
9. ``registry-converged``: after the last heal queen's workers are the workers really running;
10. ``released``: after the run no job is active, no stream open, no worker reserved;
11. ``memory-bounded``: each daemon's memory after the run is within a bound of before;
12. ``lost-only-with-queen``: a job ends ``[LOST]`` (queen no longer knows it) only if queen was
    restarted between its acceptance and that end; its tokens are still a prefix of the reference;
13. ``fault-confirmed``: every injected fault was confirmed from outside the stack (the process
    gone or stopped by /proc, the OOM kill in the kernel's log, the iptables rules in force).

Each invariant is one object with the ``Invariant`` protocol: it judges a ``Run`` (the typed
history, grouped by job) and returns a ``Verdict``: valid, invalid (with its violations) or
unknown (nothing in the history to judge it by), with its evidence. ``verdicts()`` composes them;
``check()`` gives the run's violations. A violation names the invariant, the job(s), and the
window of the history around it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, Protocol

from rbee_bdd.faults.chaos.events import (
    Accepted,
    End,
    Fault,
    Final,
    Heal,
    Invoke,
    Narrated,
    Reference,
    Token,
    TypedEvent,
    describe,
    typed,
)

TERMINALS = ("[DONE]", "[CANCELLED]", "[ERROR]", "[LOST]")
QUEEN_RESTART = "restart-queen"
Status = Literal["valid", "invalid", "unknown"]


@dataclass(frozen=True)
class Bounds:
    end_grace_s: float = 30.0  # past a job's deadline, or past the last heal, by when it must have ended
    default_deadline_s: float = 120.0  # for jobs without timeout_s
    memory_growth_bytes: int = 64 * 2**20  # per daemon, after the run vs. before


@dataclass
class Violation:
    invariant: str
    jobs: list[int]
    detail: str
    window: list[TypedEvent] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"VIOLATION {self.invariant} (ops {self.jobs}): {self.detail}"]
        lines += [f"    {describe(event)}" for event in self.window]
        return "\n".join(lines)


@dataclass
class Verdict:
    invariant: str
    status: Status
    evidence: str  # what was judged, or why nothing could be
    violations: list[Violation] = field(default_factory=list)


@dataclass
class Job:
    """One accepted job's events."""

    op: int
    invoke: Invoke
    accepted: Accepted
    ends: list[End]
    tokens: list[Token]
    narrations: list[Narrated]

    @property
    def end(self) -> End | None:
        return self.ends[0] if self.ends else None

    @property
    def text(self) -> str:
        return "".join(token.text for token in self.tokens)


class Run:
    """A history, typed and grouped: the jobs, faults, heals and final state the invariants judge."""

    def __init__(self, history: list[dict[str, Any]], bounds: Bounds) -> None:
        self.bounds = bounds
        self.events = typed(history)
        self.references = {e.key: e.text for e in self.events if isinstance(e, Reference)}
        self.faults = [e for e in self.events if isinstance(e, Fault)]
        self.finals = [e for e in self.events if isinstance(e, Final)]
        self.last_heal = max((e.t for e in self.events if isinstance(e, Heal)), default=0.0)
        self.shutdown_at = min((f.t for f in self.faults if f.name == "queen-shutdown"), default=None)
        self.queen_restarts = [f.t for f in self.faults if f.name == QUEEN_RESTART]

    @cached_property
    def jobs(self) -> list[Job]:
        """The accepted jobs, by op."""
        by_op: dict[int, list[TypedEvent]] = defaultdict(list)
        for event in self.events:
            op = getattr(event, "op", None)
            if op is not None:
                by_op[op].append(event)
        jobs = []
        for op, own in sorted(by_op.items()):
            invoke = next((e for e in own if isinstance(e, Invoke)), None)
            accepted = next((e for e in own if isinstance(e, Accepted)), None)
            if invoke is not None and accepted is not None:
                jobs.append(Job(op, invoke, accepted, [e for e in own if isinstance(e, End)],
                                [e for e in own if isinstance(e, Token)], [e for e in own if isinstance(e, Narrated)]))
        return jobs

    def window(self, ops: list[int], around_t: float, span_s: float = 2.0, most: int = 12) -> list[TypedEvent]:
        """The events of *ops*, and the faults and heals, within *span_s* of *around_t*."""
        near = [e for e in self.events if abs(e.t - around_t) <= span_s and
                (getattr(e, "op", None) in ops or isinstance(e, (Fault, Heal)))]
        return near[:most]


class Invariant(Protocol):
    name: str

    def judge(self, run: Run) -> Verdict: ...


Found = tuple[list[int], str, float]  # the ops, what is wrong, when


class JobInvariant(ABC):
    """An invariant judged job by job: ``problems`` yields what is wrong with one job."""

    name = ""

    def applies(self, job: Job, run: Run) -> bool:
        """Whether *job* gives this invariant anything to judge."""
        return job.end is not None

    @abstractmethod
    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        """What is wrong with *job*, and when."""

    def judge(self, run: Run) -> Verdict:
        judged = [job for job in run.jobs if self.applies(job, run)]
        found = [([job.op], detail, at) for job in judged for detail, at in self.problems(job, run)]
        return verdict(self.name, run, found, f"{len(judged)} job(s) judged")


def verdict(name: str, run: Run, found: list[Found], evidence: str, judged: bool = True) -> Verdict:
    if found:
        return Verdict(name, "invalid", evidence,
                       [Violation(name, ops, detail, run.window(ops, at)) for ops, detail, at in found])
    return Verdict(name, "valid" if judged else "unknown", evidence)


class NoJobWhileShuttingDown(JobInvariant):
    name = "no-job-while-shutting-down"

    def applies(self, job: Job, run: Run) -> bool:
        return run.shutdown_at is not None

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        if run.shutdown_at is not None and job.accepted.t > run.shutdown_at:
            yield f"accepted at {job.accepted.t} s, queen shutting down since {run.shutdown_at} s", job.accepted.t


class OneEnd(JobInvariant):
    name = "one-end"

    def applies(self, job: Job, run: Run) -> bool:
        return True

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        if len(job.ends) != 1:
            yield (f"{len(job.ends)} terminal markers: {[e.marker for e in job.ends]}",
                   job.ends[-1].t if job.ends else job.accepted.t)


class LostOnlyWithQueen(JobInvariant):
    name = "lost-only-with-queen"

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        end = job.end
        if end is not None and end.marker == "[LOST]" and \
                not any(job.accepted.t <= t <= end.t for t in run.queen_restarts):
            yield "queen lost the job, and was not restarted while it ran", end.t


class MarkerOnStream(JobInvariant):
    name = "marker-on-stream"

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        end = job.end
        if end is not None and end.marker != "[LOST]" and job.invoke.plan != "disconnect" and end.via != "stream":
            yield f"the stream closed without a marker; the job's state says {end.marker}", end.t


class EndedInTime(JobInvariant):
    name = "ended-in-time"

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        bounds, end = run.bounds, job.end
        deadline = job.invoke.t + (job.invoke.timeout_s or bounds.default_deadline_s) + bounds.end_grace_s
        due = max(deadline, run.last_heal + bounds.end_grace_s)
        if end is not None and end.t > due:
            yield f"ended at {end.t} s, due by {due:.1f} s", end.t


class TokenOrder(JobInvariant):
    name = "token-order"

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        indexes = [token.i for token in job.tokens]
        if job.end is not None and indexes != list(range(len(indexes))):
            yield f"token indexes {indexes[:40]}", job.tokens[0].t


class DoneIsReference(JobInvariant):
    name = "done-is-reference"

    def applies(self, job: Job, run: Run) -> bool:
        end = job.end
        return end is not None and end.marker == "[DONE]" and end.via == "stream" and \
            job.invoke.key in run.references

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        reference, end = run.references[job.invoke.key], job.end
        if end is not None and job.text != reference:
            yield f"got {job.text[:80]!r}, the reference is {reference[:80]!r}", end.t


class PrefixOfReference(JobInvariant):
    name = "prefix-of-reference"

    def applies(self, job: Job, run: Run) -> bool:
        return job.end is not None and job.invoke.key in run.references and \
            not DONE_IS_REFERENCE.applies(job, run)

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        reference, end = run.references[job.invoke.key], job.end
        if end is not None and not reference.startswith(job.text):  # ended otherwise, or read in part
            yield f"{end.marker}: got {job.text[:80]!r}, not a prefix of {reference[:80]!r}", end.t


class NoRetryAfterFirstToken(JobInvariant):
    name = "no-retry-after-first-token"

    def problems(self, job: Job, run: Run) -> Iterator[tuple[str, float]]:
        if job.tokens and any(n.action == "job_retry" and n.t > job.tokens[0].t for n in job.narrations):
            yield "job_retry narrated after the first token", job.tokens[0].t


class FaultConfirmed:
    name = "fault-confirmed"

    def judge(self, run: Run) -> Verdict:
        found: list[Found] = [([], f"{f.name} on {f.node or None} not confirmed: {f.detail or None}", f.t)
                              for f in run.faults if f.confirmed is False]
        asked = [f for f in run.faults if f.confirmed is not None]
        return verdict(self.name, run, found, f"{len(asked)} fault(s) confirmed or not", judged=bool(asked))


class FinalInvariant(ABC):
    """An invariant judged on the stack's state after the run (unknown without a ``final`` event)."""

    name = ""

    @abstractmethod
    def problem(self, final: Final, bounds: Bounds) -> str | None:
        """What is wrong with the final state, or None."""

    def judge(self, run: Run) -> Verdict:
        found: list[Found] = [([], detail, final.t) for final in run.finals
                              if (detail := self.problem(final, run.bounds)) is not None]
        return verdict(self.name, run, found, f"{len(run.finals)} final state(s)", judged=bool(run.finals))


class RegistryConverged(FinalInvariant):
    name = "registry-converged"

    def problem(self, final: Final, bounds: Bounds) -> str | None:
        registry, running = sorted(final.registry_workers), sorted(final.process_workers)
        return None if registry == running else f"queen lists {registry}, the process tables hold {running}"


class Released(FinalInvariant):
    name = "released"

    def problem(self, final: Final, bounds: Bounds) -> str | None:
        held = {"jobs_active": final.jobs_active, "streams_open": final.streams_open,
                "reservations": final.reservations}
        left = {k: v for k, v in held.items() if v}
        return f"still held after the run: {left}" if left else None


class MemoryBounded(FinalInvariant):
    name = "memory-bounded"

    def problem(self, final: Final, bounds: Bounds) -> str | None:
        before, after = final.memory_before, final.memory_after
        grown = {name: after[name] - before[name] for name in before
                 if name in after and after[name] - before[name] > bounds.memory_growth_bytes}
        return f"grew by more than {bounds.memory_growth_bytes} bytes: {grown}" if grown else None


# in the order their violations are reported: per job first (by op), then the run's
DONE_IS_REFERENCE = DoneIsReference()  # prefix-of-reference judges the jobs it does not
JOB_INVARIANTS: tuple[JobInvariant, ...] = (
    NoJobWhileShuttingDown(), OneEnd(), LostOnlyWithQueen(), MarkerOnStream(), EndedInTime(), TokenOrder(),
    DONE_IS_REFERENCE, PrefixOfReference(), NoRetryAfterFirstToken())
RUN_INVARIANTS: tuple[Invariant, ...] = (FaultConfirmed(), RegistryConverged(), Released(), MemoryBounded())
INVARIANTS: tuple[Invariant, ...] = (*JOB_INVARIANTS, *RUN_INVARIANTS)


def verdicts(history: list[dict[str, Any]], bounds: Bounds = Bounds()) -> list[Verdict]:
    """Each invariant's verdict on *history*."""
    run = Run(history, bounds)
    return [invariant.judge(run) for invariant in INVARIANTS]


def violations_of(judged: list[Verdict]) -> list[Violation]:
    """The violations in *judged*: a job's by op, in the invariants' order, then the run's."""
    order = {invariant.name: n for n, invariant in enumerate(INVARIANTS)}
    found = [v for verdict_ in judged for v in verdict_.violations]
    return sorted(found, key=lambda v: (0, v.jobs[0], order[v.invariant]) if v.jobs else (1, 0, order[v.invariant]))


def check(history: list[dict[str, Any]], bounds: Bounds = Bounds()) -> list[Violation]:
    """Every violation of the invariants in *history* (empty: the run is correct)."""
    return violations_of(verdicts(history, bounds))


def summary(found: list[Verdict]) -> str:
    """One line per invariant: its status and evidence."""
    return "\n".join(f"  {v.invariant:28} {v.status:8} {v.evidence}" for v in found)
