"""A chaos history's events, typed: one dataclass per kind, read from the history's JSON objects.

The history file stays one JSON object a line (``history.py``); the checker reads it through
``typed()``, so each invariant sees fields with their types, never a ``dict[str, Any]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reference:
    """The fault-free completion of a job's parameters."""

    t: float
    model: str
    prompt: str
    seed: int
    max_tokens: int
    text: str

    @property
    def key(self) -> tuple[str, str, int, int]:
        return self.model, self.prompt, self.seed, self.max_tokens


@dataclass(frozen=True)
class Invoke:
    """A client asks for a job; *plan* is how it reads it (``read`` to the end, or ``disconnect``)."""

    t: float
    op: int
    model: str
    prompt: str
    seed: int
    max_tokens: int
    timeout_s: float | None = None
    plan: str = "read"

    @property
    def key(self) -> tuple[str, str, int, int]:
        return self.model, self.prompt, self.seed, self.max_tokens


@dataclass(frozen=True)
class Accepted:
    t: float
    op: int
    job_id: str = ""


@dataclass(frozen=True)
class Token:
    t: float
    op: int
    i: int
    text: str


@dataclass(frozen=True)
class Narrated:
    t: float
    op: int
    action: str
    actor: str = ""


@dataclass(frozen=True)
class End:
    """A job's terminal marker, read on its stream or (``via="status"``) from its state."""

    t: float
    op: int
    marker: str
    via: str = "stream"


@dataclass(frozen=True)
class Fault:
    """A fault injected; *confirmed* from outside the stack (None: not asked)."""

    t: float
    name: str
    node: str = ""
    confirmed: bool | None = None
    detail: str = ""


@dataclass(frozen=True)
class Heal:
    t: float
    name: str


@dataclass(frozen=True)
class Final:
    """What the stack looked like after the last heal."""

    t: float
    registry_workers: list[str] = field(default_factory=list)
    process_workers: list[str] = field(default_factory=list)
    jobs_active: int = 0
    streams_open: int = 0
    reservations: int = 0
    memory_before: dict[str, int] = field(default_factory=dict)
    memory_after: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Other:
    """A kind the checker does not judge (refused, fault_skipped, workload_stopped…), kept for windows."""

    t: float
    kind: str
    op: int | None = None


TypedEvent = Reference | Invoke | Accepted | Token | Narrated | End | Fault | Heal | Final | Other
KINDS: dict[str, type[TypedEvent]] = {
    "reference": Reference, "invoke": Invoke, "accepted": Accepted, "token": Token, "narration": Narrated,
    "end": End, "fault": Fault, "heal": Heal, "final": Final,
}


def typed_event(raw: dict[str, Any]) -> TypedEvent:
    """One history object as its kind's dataclass (fields the kind does not know are left out)."""
    kind = str(raw["type"])
    cls = KINDS.get(kind)
    if cls is None:
        return Other(float(raw["t"]), kind, raw.get("op"))
    names = cls.__dataclass_fields__
    return cls(**{name: value for name, value in raw.items() if name in names})


def typed(history: list[dict[str, Any]]) -> list[TypedEvent]:
    """The history's events in time order, typed."""
    return [typed_event(raw) for raw in sorted(history, key=lambda e: e["t"])]


def describe(event: TypedEvent) -> str:
    """One event as the history file has it, for a violation's window."""
    kind = event.kind if isinstance(event, Other) else next(k for k, c in KINDS.items() if isinstance(event, c))
    fields = {k: v for k, v in vars(event).items() if k != "kind"}
    return str({"t": fields.pop("t"), "type": kind, **fields})
