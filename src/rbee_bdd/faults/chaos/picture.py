"""A chaos run's timeline as a picture: faults as shaded bands per node, every job as a point.

A job is drawn at the time its client asked for it, at the height of its latency (invoke to
terminal marker), coloured by the marker it ended with; a job that never ended is drawn at the
top in black. Each fault is a band on its node's row, from its injection to its heal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rbee_bdd.faults.chaos.history import Event

COLOURS = {"[DONE]": "#2e7d32", "[ERROR]": "#c62828", "[CANCELLED]": "#f9a825", "[LOST]": "#1565c0",
           "refused": "#6a1b9a", "no end": "#000000"}


LABELLED_BANDS = 30


@dataclass(frozen=True)
class Band:
    node: str
    name: str
    start: float
    end: float


@dataclass(frozen=True)
class Point:
    at: float
    latency_s: float | None  # None: the job never ended
    ending: str  # a key of COLOURS


def fault_bands(events: list[Event]) -> list[Band]:
    """Each fault with its heal: the first heal of the same name after it (a heal names no node)."""
    bands, open_faults = [], []
    end_of_run = max((e["t"] for e in events), default=0.0)
    for event in events:
        if event["type"] == "fault":
            open_faults.append(event)
        elif event["type"] == "heal":
            fault = next((f for f in open_faults if f["name"] == event["name"]), None)
            if fault is not None:
                open_faults.remove(fault)
                bands.append(Band(fault.get("node", "?"), fault["name"], fault["t"], event["t"]))
    bands += [Band(f.get("node", "?"), f["name"], f["t"], end_of_run) for f in open_faults]
    return bands


def job_points(events: list[Event]) -> list[Point]:
    """Every invoked job: when it was asked for, how long until its end, and which end."""
    invoked = {e["op"]: e["t"] for e in events if e["type"] == "invoke"}
    endings: dict[int, tuple[float, str]] = {}
    for event in events:
        if event["type"] == "end" and event["op"] not in endings:
            endings[event["op"]] = (event["t"], event["marker"].split(":")[0].split(" ")[0])
        elif event["type"] == "refused":
            endings.setdefault(event["op"], (event["t"], "refused"))
    points = []
    for op, at in invoked.items():
        ended = endings.get(op)
        points.append(Point(at, None, "no end") if ended is None
                      else Point(at, ended[0] - at, ended[1] if ended[1] in COLOURS else "[ERROR]"))
    return points


def draw(events: list[Event], path: Path, title: str) -> Path:
    """Write the timeline of *events* to *path* (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands, points = fault_bands(events), job_points(events)
    nodes = sorted({band.node for band in bands})
    figure, (faults_axis, jobs_axis) = plt.subplots(
        2, 1, sharex=True, figsize=(12, 2 + 0.4 * len(nodes) + 4), gridspec_kw={"height_ratios": [1 + len(nodes), 8]})
    for band in bands:
        row = nodes.index(band.node)
        faults_axis.broken_barh([(band.start, max(band.end - band.start, 0.05))], (row - 0.4, 0.8),
                                color="#ef9a9a", edgecolor="#b71c1c")
        if len(bands) <= LABELLED_BANDS:  # a long run's bands are too many to name
            faults_axis.text(band.start, row, band.name, fontsize=6, va="center")
    faults_axis.set_yticks(range(len(nodes)), nodes)
    faults_axis.set_title(title)
    top = max((p.latency_s for p in points if p.latency_s is not None), default=1.0) * 1.05
    for ending, colour in COLOURS.items():
        mine = [p for p in points if p.ending == ending]
        if mine:
            jobs_axis.scatter([p.at for p in mine], [top if p.latency_s is None else p.latency_s for p in mine],
                              s=6, color=colour, label=f"{ending} ({len(mine)})")
    jobs_axis.set_xlabel("seconds since the run began")
    jobs_axis.set_ylabel("job latency, s")
    jobs_axis.legend(loc="upper right", fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
