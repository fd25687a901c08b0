"""Reading a daemon's ``GET /metrics`` (Prometheus text format) from outside."""

from __future__ import annotations

from rbee_bdd.clients.http import request


def parse(text: str) -> dict[str, float]:
    """``{sample name (with labels): value}`` of a text exposition; comments skipped."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        samples[name.strip()] = float(value)
    return samples


def scrape(base_url: str) -> dict[str, float]:
    answer = request("GET", f"{base_url}/metrics", timeout=5.0)
    answer.raise_for_status()
    return parse(answer.text)
