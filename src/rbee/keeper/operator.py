"""rbee-keeper's commands for operators: hives, workers, status, a job's log.

Each prints a table for people (``--json`` for scripts) and exits 0; 1 when queen cannot be
reached or refuses (one line ``❌ Failed: …`` on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse


class QueenError(Exception):
    """Queen could not be reached, or answered with an error."""


def call(client: httpx.Client, method: str, url: str, expect: int = 200, **kwargs: Any) -> dict[str, Any]:
    """Queen's JSON answer; QueenError with its error code and message otherwise."""
    try:
        answer = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise QueenError(f"cannot reach queen at {url}: {exc}") from None
    if answer.status_code != expect:
        try:
            error = answer.json()["error"]
            raise QueenError(f"{error['code']}: {error['message']}")
        except (ValueError, KeyError, TypeError):
            raise QueenError(f"queen answered HTTP {answer.status_code}") from None
    return dict(answer.json())


def get(client: httpx.Client, url: str, **params: str) -> dict[str, Any]:
    return call(client, "GET", url, params={k: v for k, v in params.items() if v})


def table(rows: list[list[str]], header: list[str]) -> str:
    """Columns padded to their widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])


def hives(client: httpx.Client, base: str, args: Any) -> tuple[Any, str]:
    found = get(client, f"{base}/v1/hives")["hives"]
    rows = [[h["hive_id"], "yes" if h["available"] else "NO", str(h["workers"]), f"{h['last_seen_s_ago']:.1f}s",
             ",".join(h["models"])] for h in found]
    return found, table(rows, ["HIVE", "AVAILABLE", "WORKERS", "LAST SEEN", "MODELS"])


def workers(client: httpx.Client, base: str, args: Any) -> tuple[Any, str]:
    found = get(client, f"{base}/v1/workers", model=args.model or "")["workers"]
    rows = [[w["worker_id"], w["hive_id"], w["model"], w["state"], "yes" if w["idle"] else "no",
             str(w.get("pid") or "-"), f"{w.get('rss_mb') or 0:.0f}"] for w in found]
    return found, table(rows, ["WORKER", "HIVE", "MODEL", "STATE", "IDLE", "PID", "RSS MB"])


def status(client: httpx.Client, base: str, args: Any) -> tuple[Any, str]:
    health = get(client, f"{base}/health")
    known_hives = get(client, f"{base}/v1/hives")["hives"]
    known_workers = get(client, f"{base}/v1/workers")["workers"]
    summary = {"queen": health.get("state", "serving"), "hives": len(known_hives),
               "hives_available": sum(1 for h in known_hives if h["available"]),
               "workers": len(known_workers), "workers_idle": sum(1 for w in known_workers if w["idle"])}
    text = (f"queen: {summary['queen']}\n"
            f"hives: {summary['hives']} ({summary['hives_available']} available)\n"
            f"workers: {summary['workers']} ({summary['workers_idle']} idle)")
    return summary, text


def logs(client: httpx.Client, base: str, args: Any) -> tuple[Any, str]:
    """The job's narration and its end, from its stream (which replays every event from the first)."""
    get(client, f"{base}/v1/jobs/{args.job_id}")  # a clear JOB_NOT_FOUND before streaming
    events: list[dict[str, Any]] = []
    lines: list[str] = []
    try:
        with connect_sse(client, "GET", f"{base}/v1/jobs/{args.job_id}/stream",
                         timeout=httpx.Timeout(10.0, read=args.wait)) as source:
            for sse in source.iter_sse():
                if sse.event == "narration":
                    event = json.loads(sse.data)
                    events.append(event)
                    lines.append(f"[{event['actor']}] {event['action']} : {event['human']}")
                elif sse.event != "token" and sse.data.startswith(("[DONE]", "[ERROR]", "[CANCELLED]")):
                    events.append({"end": sse.data})
                    lines.append(sse.data)
                    break
    except httpx.ReadTimeout:
        lines.append(f"(the job had not ended after {args.wait:g} s)")
    except (httpx.HTTPError, SSEError) as exc:
        raise QueenError(f"lost the job's stream: {exc}") from None
    return events, "\n".join(lines)


Command = Callable[[httpx.Client, str, Any], tuple[Any, str]]
COMMANDS: dict[str, Command] = {"hives": hives, "workers": workers, "status": status, "logs": logs}


def run(command: Command, client: httpx.Client, base: str, args: Any) -> int:
    try:
        data, text = command(client, base, args)
    except QueenError as exc:
        sys.stderr.write(f"❌ Failed: {exc}\n")
        return 1
    sys.stdout.write((json.dumps(data, indent=2) if args.json else text) + "\n")
    return 0
