"""Printing benchmark figures as a table: median, min, max and the target."""

from __future__ import annotations

import statistics


def row(name: str, values: list[float], unit: str, target: str) -> str:
    return (f"{name:34} {statistics.median(values):10.2f} {min(values):10.2f} {max(values):10.2f}"
            f"  {unit:5} {target}")


def header() -> str:
    return f"\n{'figure':34} {'median':>10} {'min':>10} {'max':>10}  {'unit':5} target"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]
