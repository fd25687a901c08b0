"""Narration: short human-readable events that tell a job's story.

Each event names who acted (actor), what it did (action) and on what (target), with a
human sentence of at most 100 characters. Workers print narration to stdout as
``[actor] action : message`` lines; the hive captures them and relays them to queen.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from rbee.common.scrub import scrub_paths

HUMAN_MAX = 100
_LINE = re.compile(r"^\[(?P<actor>[a-z0-9][a-z0-9_.-]*)\] (?P<action>[a-z0-9_]+) : (?P<human>\S.*)$")


def now_ms() -> int:
    """Wall-clock time in milliseconds."""
    return int(time.time() * 1000)


def clip(text: str, limit: int = HUMAN_MAX) -> str:
    """Shorten *text* to *limit* characters, marking the cut with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Narration:
    """One narration event as it appears on a job's SSE stream."""

    actor: str
    action: str
    human: str
    target: str = ""
    job_id: str = ""
    correlation_id: str = ""
    emitted_at_ms: int = field(default_factory=now_ms)

    def __post_init__(self) -> None:
        object.__setattr__(self, "human", clip(scrub_paths(self.human)))  # clients read it: no paths

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The stdout form: ``[actor] action : human``."""
        return f"[{self.actor}] {self.action} : {self.human}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Narration:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def parse_line(line: str) -> tuple[str, str, str] | None:
    """Split a ``[actor] action : message`` line; None for anything else."""
    match = _LINE.match(line.rstrip("\r\n"))
    if match is None:
        return None
    return match["actor"], match["action"], match["human"]
