"""The tag registry: every tag a feature may carry, with what it means; ``make lint`` enforces it.

``python -m rbee_bdd.runner.tags [FEATURES_DIR]`` fails on a tag not listed here and on a scenario
whose tags (its own and its feature's) hold no priority or more than one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from behave.parser import parse_file

from rbee_bdd.host.capabilities import CHECKS, TARGET_CHECKS
from rbee_bdd.runner.log_scan import FORBIDDEN
from rbee_bdd.stack.profiles import CAPABILITIES

PRIORITIES = {
    "p0": "must never fail: the core flows",
    "p1": "core behaviour",
    "p2": "the rest",
}
KINDS = {
    "integration": "starts a stack (every scenario)",
    "slow": "takes more than 30 s",
    "serial": "runs alone after the parallel part: its time bounds do not hold under CPU contention",
}
AREAS = {
    "inference": "features/inference: jobs, streams, cancellation, deadlines",
    "narration": "features/narration: narration and correlation ids",
    "faults": "features/faults: real faults",
    "telemetry": "features/telemetry: heartbeats, registry, worker stats",
    "harness": "features/harness: how the suite itself reports",
    "security": "features/security: credentials, secrets, input validation, audit",
    "operations": "features/operations: what an operator meets: the keeper's views, lifecycle, configuration",
}
TOPICS = {
    "backpressure": "slow and stalled stream readers",
    "cancellation": "DELETE, disconnect, Ctrl+C",
    "cleanup": "nothing left after any ending",
    "concurrency": "many jobs or clients at once",
    "error-propagation": "errors reach the client with their code",
    "failover": "a lost worker replaced before the first token",
    "keeper-cli": "the rbee-keeper command line",
    "timeout": "deadlines",
    "correlation": "one correlation id through every daemon",
    "cascading-shutdown": "SIGTERM to queen down to every worker",
    "chaos": "seeded random faults under a workload, every job's history checked",
    "crash": "SIGKILL of workers and hives",
    "database-failure": "a corrupt model catalog",
    "multi-hive": "work shared by several hives",
    "network-partition": "iptables partitions",
    "oom": "kernel OOM kills under memory limits",
    "provisioning": "models downloaded from a hub",
    "restart": "daemons stopped or crashed and back",
    "worker-churn": "bursts of spawns and stops",
    "auth": "who may call the daemons: tokens, JWTs, scopes, the cluster credential",
    "secrets": "credentials never leak, are read safely, and rotate",
    "validation": "bad input refused, nothing changed, safe error bodies",
    "audit": "the hash-chained audit trail",
    "attacks": "attacks from outside that once got through, kept so that they stay fixed",
    "limits": "what one client can hold of a daemon: connections, slow headers and bodies",
    "transport": "HTTPS on every hop: certificates checked, credentials never in the clear",
    "lifecycle": "workers that cannot start, do not start, stay idle, stop answering or end: what the hive does",
    "preflight": "a model checked against the memory and disk it may use before a spawn or a download",
    "config": "the daemons' --config TOML files, at start and on SIGHUP",
    "metrics": "the counters and histograms an operator alerts on move for the right events",
    "version": "hives of other protocol versions: taken, or refused and never scheduled to",
    "deadline": "a job's deadline: its default, who may shorten it, one that passes during a cold start",
}
NEEDS = {f"needs.{name}": "skipped, with the reason printed, where the machine lacks it"
         for name in [*CHECKS, *TARGET_CHECKS]}
CAPS = {f"cap.{name}": f"optional capability: {meaning}" for name, meaning in CAPABILITIES.items()}
LOGS = {f"log.{kind}": f"provokes '{phrase}' in a daemon's log on purpose: the log scan does not look for it"
        for kind, phrase in FORBIDDEN.items()}
REGISTRY = {**PRIORITIES, **KINDS, **AREAS, **TOPICS, **NEEDS, **CAPS, **LOGS}
CONTRACT_PREFIX = "contract."  # @contract.<clause id>: checked against docs/contract.md (reports.traceability)


def problems(features: Path) -> list[str]:
    """Every unknown tag and every scenario without exactly one priority, as ``file:line: …``."""
    found = []
    for path in sorted(features.rglob("*.feature")):
        feature = parse_file(str(path))
        if feature is None:
            continue
        unknown: dict[str, int] = {}
        for scenario in feature.walk_scenarios():  # an outline's rows, each with the outline's tags
            tags = set(scenario.effective_tags)
            for tag in sorted(t for t in tags - set(REGISTRY) if not t.startswith(CONTRACT_PREFIX)):
                unknown.setdefault(tag, scenario.line)
            priorities = sorted(tags & set(PRIORITIES))
            if len(priorities) != 1:
                found.append(f"{path}:{scenario.line}: {scenario.name!r} needs exactly one priority "
                             f"(@p0, @p1 or @p2), has {['@' + p for p in priorities] or 'none'}")
        found += [f"{path}:{line}: unknown tag @{tag}" for tag, line in unknown.items()]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rbee_bdd.runner.tags", description=__doc__.splitlines()[0])
    parser.add_argument("features", type=Path, nargs="?", default=Path("features"))
    found = problems(parser.parse_args(argv).features)
    for line in found:
        print(f"tags: {line}", file=sys.stderr)
    if found:
        print(f"tags: {len(found)} problem(s); the registry is src/rbee_bdd/runner/tags.py", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
