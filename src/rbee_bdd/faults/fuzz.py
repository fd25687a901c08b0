"""``make fuzz``: schemathesis against the OpenAPI of queen, a hive and a worker of a live local stack.

Each daemon is fuzzed with the credential it expects (queen: an admin client token; hive and
worker: the cluster credential), given to schemathesis through its environment, never its
command line. Checks: no 5xx, responses conform to the schema, and no error body carries a
traceback, a filesystem path, an address or a URL (``rbee_bdd.faults.fuzz_checks``). Operations that
would end the run or reach outside the machine are left out: a hive's ``/v1/shutdown`` (it
would stop the hive being fuzzed) and ``/v1/models/provision`` (it downloads from the URL it is
given).

    python -m rbee_bdd.faults.fuzz --examples 25 --seed 1 --reports reports/fuzz
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rbee_bdd.core.cleanup import cleaned_up
from rbee_bdd.core.identity import RunIdentity
from rbee_bdd.core.waiting import eventually
from rbee_bdd.host.sweep import sweep
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.stack import Stack

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,safe_error_body"
# A fuzzed heartbeat, with the cluster credential, would register hives at arbitrary addresses that
# queen then calls (on a job, on shutdown): the cluster-only routes are left out, as are a hive's
# /v1/shutdown (it ends the hive being fuzzed) and /v1/models/provision (it downloads from the URL
# it is sent).
EXCLUDED = {"queen": ["/v1/hive-heartbeat", "/v1/narration"], "hive": ["/v1/shutdown", "/v1/models/provision"]}
TOKEN_ENV = "RBEE_FUZZ_TOKEN"
CONFIG = "headers = { Authorization = \"Bearer ${" + TOKEN_ENV + "}\" }\n"


def fuzz_daemon(name: str, url: str, token: str, args: argparse.Namespace, folder: Path) -> int:
    """Run schemathesis against one daemon; its exit code (0: nothing found)."""
    config = folder / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
               f"{url}/openapi.json", "--checks", CHECKS, "--max-examples", str(args.examples),
               "--seed", str(args.seed), "--generation-deterministic",  # which also means no example database
               "--request-timeout", "30",
               "--report", "junit", "--report-junit-path", str(args.reports / f"{name}.xml"), "--no-color"]
    for path in EXCLUDED.get(name, []):
        command += ["--exclude-path", path]
    env = {**os.environ, TOKEN_ENV: token, "SCHEMATHESIS_HOOKS": "rbee_bdd.faults.fuzz_checks"}
    print(f"fuzz: {name} at {url}: up to {args.examples} examples per operation, seed {args.seed}", flush=True)
    started = time.monotonic()
    with (args.reports / f"{name}.log").open("w") as log:
        # in the temporary folder: schemathesis keeps a cache of crashes in its working directory
        done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False,
                              timeout=args.timeout, cwd=folder)
    summary = [line for line in (args.reports / f"{name}.log").read_text().splitlines()
               if any(word in line for word in ("passed", "failed", "Failures", "operations", "cases"))]
    print(f"fuzz: {name}: exit {done.returncode} in {time.monotonic() - started:.0f} s; "
          + " | ".join(line.strip() for line in summary[-4:]), flush=True)
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=25, help="examples per operation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reports", type=Path, default=Path("reports/fuzz"))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per daemon at most")
    args = parser.parse_args(argv)
    args.reports = args.reports.resolve()
    args.reports.mkdir(parents=True, exist_ok=True)
    sweep()
    config = SuiteConfig.from_userdata({"target": "local"}, Path.cwd())
    failed: list[str] = []
    try:
        with cleaned_up("fuzz") as cleanup, tempfile.TemporaryDirectory(prefix="rbee-fuzz-") as folder:
            stack = Stack(config, RunIdentity.new().scenario(1), args.reports / "logs", cleanup)
            stack.start(hives=1)
            hive = stack.hive()
            spawned = hive.spawn("tinyllama")
            spawned.raise_for_status()
            worker_id = spawned.json()["worker_id"]
            eventually(lambda: hive.worker(worker_id)["state"] == "ready", 60, f"{worker_id} to be ready")
            # the worker before the hive, whose DELETE /v1/workers stops it
            targets = [("queen", stack.queen().url, stack.client_token("admin")),
                       ("worker", stack.worker("hive-1", worker_id).url, stack.cluster_token),
                       ("hive", hive.url, stack.cluster_token)]
            for name, url, token in targets:
                if fuzz_daemon(name, url, token, args, Path(folder)) != 0:
                    failed.append(name)
    except KeyboardInterrupt:
        print("fuzz: interrupted", file=sys.stderr)
        return 130
    if failed:
        print(f"fuzz: schemathesis found problems in {', '.join(failed)}; see {args.reports}/<daemon>.log")
        return 1
    print(f"fuzz: queen, hive and worker passed; reports in {args.reports}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
