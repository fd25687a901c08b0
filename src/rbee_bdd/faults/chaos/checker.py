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

A violation names the invariant, the job(s), and the window of the history around it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from rbee_bdd.chaos.history import Event

TERMINALS = ("[DONE]", "[CANCELLED]", "[ERROR]", "[LOST]")
QUEEN_RESTART = "restart-queen"


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
    window: list[Event] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"VIOLATION {self.invariant} (ops {self.jobs}): {self.detail}"]
        lines += [f"    {event}" for event in self.window]
        return "\n".join(lines)


def reference_key(event: Event) -> tuple[str, str, int, int]:
    return event["model"], event["prompt"], int(event["seed"]), int(event["max_tokens"])


def window(history: list[Event], ops: list[int], around_t: float, span_s: float = 2.0, most: int = 12) -> list[Event]:
    """The events of *ops*, and the faults and heals, within *span_s* of *around_t*."""
    near = [e for e in history if abs(e["t"] - around_t) <= span_s and
            (e.get("op") in ops or e["type"] in ("fault", "heal"))]
    return near[:most]


def check(history: list[Event], bounds: Bounds = Bounds()) -> list[Violation]:
    """Every violation of the invariants in *history* (empty: the run is correct)."""
    events = sorted(history, key=lambda e: e["t"])
    found: list[Violation] = []
    references = {reference_key(e): e["text"] for e in events if e["type"] == "reference"}
    by_op: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if "op" in event:
            by_op[event["op"]].append(event)
    heals = [e["t"] for e in events if e["type"] == "heal"]
    last_heal = max(heals, default=0.0)
    shutdown_at = min((e["t"] for e in events if e["type"] == "fault" and e["name"] == "queen-shutdown"),
                      default=None)
    queen_restarts = [e["t"] for e in events if e["type"] == "fault" and e["name"] == QUEEN_RESTART]

    def violate(invariant: str, ops: list[int], detail: str, at: float) -> None:
        found.append(Violation(invariant, ops, detail, window(events, ops, at)))

    for op, own in sorted(by_op.items()):
        invoke = next((e for e in own if e["type"] == "invoke"), None)
        accepted = next((e for e in own if e["type"] == "accepted"), None)
        if invoke is None or accepted is None:
            continue
        if shutdown_at is not None and accepted["t"] > shutdown_at:
            violate("no-job-while-shutting-down", [op], f"accepted at {accepted['t']} s, queen shutting down "
                    f"since {shutdown_at} s", accepted["t"])
        ends = [e for e in own if e["type"] == "end"]
        if len(ends) != 1:
            violate("one-end", [op], f"{len(ends)} terminal markers: {[e['marker'] for e in ends]}",
                    ends[-1]["t"] if ends else accepted["t"])
            if not ends:
                continue
        end = ends[0]
        if end["marker"] == "[LOST]":
            if not any(accepted["t"] <= t <= end["t"] for t in queen_restarts):
                violate("lost-only-with-queen", [op], "queen lost the job, and was not restarted while it ran",
                        end["t"])
        elif invoke.get("plan", "read") != "disconnect" and end.get("via", "stream") != "stream":
            violate("marker-on-stream", [op], "the stream closed without a marker; the job's state says "
                    f"{end['marker']}", end["t"])
        deadline = invoke["t"] + (invoke.get("timeout_s") or bounds.default_deadline_s) + bounds.end_grace_s
        if end["t"] > max(deadline, last_heal + bounds.end_grace_s):
            due = max(deadline, last_heal + bounds.end_grace_s)
            violate("ended-in-time", [op], f"ended at {end['t']} s, due by {due:.1f} s", end["t"])
        tokens = [e for e in own if e["type"] == "token"]
        indexes = [e["i"] for e in tokens]
        if indexes != list(range(len(indexes))):
            violate("token-order", [op], f"token indexes {indexes[:40]}", tokens[0]["t"] if tokens else end["t"])
        text = "".join(e["text"] for e in tokens)
        reference = references.get(reference_key(invoke))
        marker = str(end["marker"])
        if reference is not None:
            if marker == "[DONE]" and end.get("via", "stream") == "stream" and text != reference:
                violate("done-is-reference", [op], f"got {text[:80]!r}, the reference is {reference[:80]!r}", end["t"])
            elif not reference.startswith(text):  # ended otherwise, or read only in part (a disconnect)
                violate("prefix-of-reference", [op], f"{marker}: got {text[:80]!r}, not a prefix of "
                        f"{reference[:80]!r}", end["t"])
        first_token = tokens[0]["t"] if tokens else None
        retries = [e for e in own if e["type"] == "narration" and e["action"] == "job_retry"]
        if first_token is not None and any(e["t"] > first_token for e in retries):
            violate("no-retry-after-first-token", [op], "job_retry narrated after the first token", first_token)
    for fault in (e for e in events if e["type"] == "fault" and e.get("confirmed") is False):
        violate("fault-confirmed", [], f"{fault['name']} on {fault.get('node')} not confirmed: {fault.get('detail')}",
                fault["t"])
    for final in (e for e in events if e["type"] == "final"):
        _check_final(final, bounds, violate)
    return found


def _check_final(final: Event, bounds: Bounds, violate: Any) -> None:
    registry, running = sorted(final["registry_workers"]), sorted(final["process_workers"])
    if registry != running:
        violate("registry-converged", [], f"queen lists {registry}, the process tables hold {running}", final["t"])
    left = {k: final[k] for k in ("jobs_active", "streams_open", "reservations") if final.get(k)}
    if left:
        violate("released", [], f"still held after the run: {left}", final["t"])
    before, after = final.get("memory_before", {}), final.get("memory_after", {})
    grown = {name: after[name] - before[name] for name in before if name in after
             and after[name] - before[name] > bounds.memory_growth_bytes}
    if grown:
        violate("memory-bounded", [], f"grew by more than {bounds.memory_growth_bytes} bytes: {grown}", final["t"])
