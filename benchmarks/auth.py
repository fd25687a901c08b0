"""What authentication adds to queen's ``POST /v1/jobs``: a stack with credentials beside one without.

Both are local stacks started the same way; requests go to each in turn over one kept-alive
connection per stack, for a model no hive has (queen answers 201, then ends the job on its own,
so no worker's time is measured). Prints p50/p95/p99 of each and the difference; target: at most
1 ms added at p99.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.table import percentile
from rbee_bdd.clients.api import infer_body
from rbee_bdd.clients.http import client
from rbee_bdd.core.cleanup import cleaned_up
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack

TARGET_P99_MS = 1.0


def post_ms(session: httpx.Client, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = session.post(f"{url}/v1/jobs", json=infer_body("bench-absent", max_tokens=1), headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 201:
        raise SystemExit(f"bench-auth: queen answered {answer.status_code}: {answer.text[:200]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1000, help="per stack")
    args = parser.parse_args()
    sweep()
    config = SuiteConfig.from_userdata({"target": "local"}, Path.cwd())
    run = RunIdentity.new()
    figures: dict[str, list[float]] = {"with credentials": [], "without": []}
    try:
        with cleaned_up("bench-auth") as cleanup, tempfile.TemporaryDirectory(prefix="rbee-bench-") as logs:
            secured = Stack(config, run.scenario(1), Path(logs) / "secured", cleanup)
            secured.start(hives=1)
            open_stack = Stack(config, run.scenario(2), Path(logs) / "open", cleanup, credentials=False)
            open_stack.start(hives=1)
            token = {"Authorization": f"Bearer {secured.client_token('submit')}"}
            print(f"bench-auth: {args.requests} POST /v1/jobs to each of two local stacks, in turn", flush=True)
            with client(10.0) as one, client(10.0) as other:
                for _ in range(20):  # warm both up
                    post_ms(one, secured.queen().url, token)
                    post_ms(other, open_stack.queen().url, {})
                for _ in range(args.requests):
                    figures["with credentials"].append(post_ms(one, secured.queen().url, token))
                    figures["without"].append(post_ms(other, open_stack.queen().url, {}))
    except KeyboardInterrupt:
        print("bench-auth: interrupted", file=sys.stderr)
        return 130
    print(f"\nPOST /v1/jobs, ms ({args.requests} each, local)    p50      p95      p99")
    for name, values in figures.items():
        print(f"{name:38} " + " ".join(f"{percentile(values, p):8.2f}" for p in (50, 95, 99)))
    added = [percentile(figures["with credentials"], p) - percentile(figures["without"], p) for p in (50, 95, 99)]
    print(f"{'added by authentication':38} " + " ".join(f"{v:8.2f}" for v in added)
          + f"   target p99 ≤ {TARGET_P99_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
