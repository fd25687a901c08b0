"""What a stack looked like when a wait gave up: each node's health and last log lines, and a hint
where a common cause shows (a port in use, a slow engine or machine, an image older than its sources)."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Protocol

import httpx

from rbee_bdd.clients.http import request
from rbee_bdd.stack.config import PROJECT, SuiteConfig
from rbee_bdd.stack.targets.base import Node

REFERENCE_IMAGE = "rbee-stack:latest"
SLOW_HEALTH_S = 1.0  # a /health answer slower than this, from a live daemon, points at a loaded machine
LOG_HINTS = (  # (what a daemon log says, the hint)
    ("address already in use", "a port is in use: another program, or a leftover of a run that was killed, holds it"),
    ("Too many open files", "a daemon ran out of file descriptors: see its --max-connections"),
    ("Permission denied", "a daemon was refused a file or device: see the log line above for which"),
)
SLOW_HINT = ("a daemon is alive but slow to answer: the machine or the container engine is loaded "
             "(run fewer scenarios at once with JOBS=1, or give every wait more time with -D timeout_multiplier=2)")


class StackNodes(Protocol):
    config: SuiteConfig
    queen_node: Node | None
    hive_nodes: dict[str, Node]


def node_state(node: Node) -> tuple[str, bool]:
    """How the node's daemon is (exited, or what /health said and how fast), and whether it was slow."""
    code = node.exit_code()
    if code is not None:
        return f"exited with code {code}", False
    started = time.monotonic()
    try:
        answer = request("GET", f"{node.url}/health", timeout=2.0)
    except httpx.HTTPError as exc:
        return f"running; /health failed after {time.monotonic() - started:.2f} s: {exc!r}", True
    took = time.monotonic() - started
    return f"running; /health {answer.status_code} {answer.text[:80]} in {took:.2f} s", took > SLOW_HEALTH_S


def stale_image_hint(config: SuiteConfig) -> str | None:
    """A hint when the reference image is older than the stack's sources in this checkout."""
    sources = PROJECT / "src" / "rbee"
    if config.target != "docker" or config.image != REFERENCE_IMAGE or not sources.is_dir():
        return None
    from rbee_bdd.host.engine import EngineUnavailable, connect

    try:
        created = str(connect().images.get(config.image).attrs["Created"])[:19]
    except (EngineUnavailable, Exception):  # the hint is a nicety: no engine, no image, no hint
        return None
    built = datetime.datetime.fromisoformat(created).replace(tzinfo=datetime.UTC).timestamp()
    newest = max((path.stat().st_mtime for path in Path(sources).rglob("*.py")), default=0.0)
    if newest <= built:
        return None
    return f"the image {config.image} is older than src/rbee (built {created} UTC): `make stack-image` rebuilds it"


def describe(stack: StackNodes) -> str:
    """The stack's state, node by node, and the hints its state suggests."""
    nodes = ([("queen", stack.queen_node)] if stack.queen_node is not None else []) + list(stack.hive_nodes.items())
    lines, hints = ["the stack when the wait gave up:"], []
    for name, node in nodes:
        try:
            state, slow = node_state(node)
            tail = node.log_tail(200)
        except Exception as exc:  # the node may be half started or half removed
            lines.append(f"  {name}: state unknown ({exc!r})")
            continue
        lines.append(f"  {name}: {state}")
        lines += [f"    | {line}" for line in tail.splitlines()[-3:]]
        hints += [hint for phrase, hint in LOG_HINTS if phrase.lower() in tail.lower()]
        if slow:
            hints.append(SLOW_HINT)
    if stale := stale_image_hint(stack.config):
        hints.append(stale)
    lines += [f"hint: {hint}" for hint in dict.fromkeys(hints)]
    return "\n".join(lines) if nodes else ""
