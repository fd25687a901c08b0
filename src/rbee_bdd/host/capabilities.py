"""What this machine can do, for ``@needs.*`` tags: a scenario lacking one is skipped, with the reason."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from rbee_bdd.host.engine import EngineUnavailable, connect
from rbee_bdd.host.kmsg import kmsg_reason


@functools.cache
def docker_reason() -> str | None:
    """None if a Docker engine answers, else why not."""
    try:
        connect()
    except EngineUnavailable as exc:
        return str(exc)
    return None


@functools.cache
def cgroups_reason() -> str | None:
    for path in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/cgroup.controllers")):
        if path.exists():
            return None if os.access(path if path.is_dir() else path.parent, os.W_OK) else \
                f"{path} is not writable (run as root)"
    return "no cgroup memory controller mounted"


@functools.cache
def netadmin_reason() -> str | None:
    if os.geteuid() != 0:
        return "network faults need root (iptables, network namespaces)"
    return None if shutil.which("ip") else "the `ip` command (iproute2) is missing"


@functools.cache
def gpu_reason() -> str | None:
    return None if Path("/dev/nvidia0").exists() else "no NVIDIA GPU on this machine (/dev/nvidia0 absent)"


def node_netns_reason(target: str) -> str | None:
    """Partitions need each node in its own network namespace: the docker target gives that."""
    if target != "docker":
        return (f"the {target} target runs every node in the host's network namespace; "
                "network partitions need the docker target (-D target=docker)")
    return netadmin_reason() or (None if shutil.which("iptables") and shutil.which("nsenter")
                                 else "iptables and nsenter are needed on the host")


def tmpfs_reason(target: str) -> str | None:
    """A small disk for a hive's downloads: a tmpfs in its container, or mounted by root on the host."""
    if target == "docker":
        return None
    if os.geteuid() != 0:
        return f"the {target} target mounts a tmpfs for a small disk, which needs root"
    return None if shutil.which("mount") and shutil.which("umount") else "mount and umount are needed on the host"


CHECKS: dict[str, Callable[[], str | None]] = {
    "docker": docker_reason, "cgroups": cgroups_reason, "netadmin": netadmin_reason, "gpu": gpu_reason,
    "kmsg": kmsg_reason,
}
TARGET_CHECKS = {"node-netns": node_netns_reason, "tmpfs": tmpfs_reason}


def missing(tags: list[str], target: str = "docker") -> str | None:
    """The reason to skip a scenario with these tags on *target*, or None to run it."""
    for tag in tags:
        if tag.startswith("needs.") and (target_check := TARGET_CHECKS.get(tag.removeprefix("needs."))):
            if reason := target_check(target):
                return f"needs {tag.removeprefix('needs.')}: {reason}"
            continue
        if tag.startswith("needs."):
            name = tag.removeprefix("needs.")
            check = CHECKS.get(name)
            if check is None:
                known = ", ".join("needs." + n for n in [*CHECKS, *TARGET_CHECKS])
                return f"unknown capability tag @{tag} (known: {known})"
            reason = check()
            if reason:
                return f"needs {name}: {reason}"
    return None
