"""Conformance profiles: what a build claims of the contract, and how its programs are started.

A profile is a TOML file (``profiles/<name>.toml``, or a path) chosen with ``-D profile=…``::

    description = "…"
    claims = ["narration", "deadlines"]          # optional capabilities, names from CAPABILITIES
    [programs]                                   # optional: commands, as -D queen_cmd=… would give
    queen = "/opt/rbee/bin/queen"
    [flags]                                      # optional: the reference flag → this build's flag
    "--hive-stale-after" = "--stale-after"

Scenarios of an optional capability carry ``@cap.<name>``; one whose capability the profile
does not claim is skipped, with the reason printed. Scenarios without ``@cap`` are the core
every build must pass. ``-D`` settings still win over the profile's programs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CAPABILITIES = {
    "narration": "workers' and daemons' narration relayed into job streams",
    "correlation": "X-Correlation-ID through every daemon, log and worker environment",
    "deadlines": "timeout_s: a job ends with TIMEOUT at its deadline",
    "cancellation": "DELETE, client disconnect and Ctrl+C cancel down to the worker",
    "backpressure": "streams written only as fast as read; a stalled reader is dropped",
    "metrics": "/metrics gauges that return to zero after every ending",
    "cascading-shutdown": "SIGTERM to queen stops workers, then hives, then queen",
    "failover": "a worker lost before the first token is replaced once",
    "provisioning": "models downloaded from a hub (shared, resumed, checked)",
    "catalog-recovery": "a corrupt SQLite model catalog set aside and rebuilt",
    "adoption": "a restarted hive adopts the workers its predecessor left",
    "worker-health": "a hive health-checks its workers and queen routes around sick ones",
    "oom-detection": "kernel OOM kills told apart from other kills (WORKER_OOM)",
    "cgroup-telemetry": "per-worker cgroups with limits, and telemetry read from them",
    "ui-stream": "the heartbeat SSE stream for a UI, with slow subscribers dropped",
    "gpu-placement": "nvidia-smi read before a spawn: GPU chosen, or DEVICE_MEMORY_EXHAUSTED",
    "auth": "bearer tokens with scopes, JWTs and a cluster credential; the stack runs with them",
    "audit": "security events in a hash-chained audit log, checked by rbee-keeper audit verify",
    "alerting-metrics": "Prometheus counters and histograms of jobs, spawns, start timeouts, OOM kills, "
                        "health removals, auth failures and latencies",
    "protocol-versions": "heartbeats carry protocol and version; queen refuses another major version",
    "config-file": "daemons read a --config TOML file at start (flags win) and again on SIGHUP",
    "hive-drain": "a hive drains on its own SIGTERM: running jobs finish, new spawns refused, exit 0",
    "tls": "HTTPS on every hop (--tls-cert, --tls-key, --tls-ca); plain HTTP off loopback only with "
           "--insecure-plaintext",
}
PROGRAMS = ("queen", "hive", "worker", "keeper")
KEYS = {"description", "claims", "programs", "flags"}


class ProfileError(Exception):
    """A profile that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    claims: frozenset[str] = frozenset(CAPABILITIES)
    programs: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)

    def unclaimed(self, tags: list[str]) -> str | None:
        """Why a scenario with *tags* does not apply to this build, or None."""
        missing = sorted(t.removeprefix("cap.") for t in tags if t.startswith("cap.")
                         and t.removeprefix("cap.") not in self.claims)
        if missing:
            return f"the build's profile ({self.name}) does not claim {', '.join(missing)}"
        return None

    def rename(self, args: list[str]) -> list[str]:
        """*args* with every reference flag (``--flag`` or ``--flag=value``) named as this build names it."""
        renamed = []
        for word in args:
            flag, equals, value = word.partition("=")
            renamed.append(self.flags.get(flag, flag) + equals + value if flag in self.flags else word)
        return renamed


def load(name: str, base: Path) -> Profile:
    """The profile *name* (``profiles/<name>.toml`` under *base*) or the file at the path *name*."""
    path = Path(name) if ("/" in name or name.endswith(".toml")) else base / "profiles" / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        known = sorted(p.stem for p in (base / "profiles").glob("*.toml"))
        raise ProfileError(f"no profile {name!r} ({path} not found; known: {', '.join(known)})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    if unknown := sorted(set(data) - KEYS):
        raise ProfileError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}")
    claims = data.get("claims", [])
    if not isinstance(claims, list):
        raise ProfileError(f"{path}: claims must be a list of capability names, got {claims!r}")
    if bad := sorted(set(map(str, claims)) - set(CAPABILITIES)):
        raise ProfileError(f"{path}: claims must list capabilities of {', '.join(CAPABILITIES)}; "
                           f"unknown: {', '.join(bad)}")
    programs = {str(k): str(v) for k, v in data.get("programs", {}).items()}
    if bad := sorted(set(programs) - set(PROGRAMS)):
        raise ProfileError(f"{path}: [programs] knows {', '.join(PROGRAMS)}, not {', '.join(bad)}")
    flags = {str(k): str(v) for k, v in data.get("flags", {}).items()}
    if bad := sorted(k for k, v in flags.items() if not (k.startswith("--") and v.startswith("--"))):
        raise ProfileError(f"{path}: [flags] maps --flag = \"--other-flag\"; not: {', '.join(bad)}")
    return Profile(path.stem, str(data.get("description", "")), frozenset(claims), programs, flags)
