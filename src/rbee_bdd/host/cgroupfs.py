"""Reading a process's cgroup limits from the host's cgroup filesystem (v1 or v2)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
LEAF = "rbee.leaf"  # contract (cgroups): on v2 a hive moves its own cgroup's processes into this leaf


def _paths(pid: int) -> dict[str, str]:
    """*pid*'s cgroup per v1 controller (``""``: v2); a hive's ``rbee.leaf`` counts as its parent."""
    paths: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if path.rsplit("/", 1)[-1] == LEAF:
            path = path.rsplit("/", 1)[0] or "/"
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _number(path: Path) -> int | None:
    text = path.read_text().split()[0]
    return None if text in ("max", "-1") or int(text) >= 2**62 else int(text)


def own_slices(pattern: str) -> list[Path]:
    """The slices matching *pattern* (a glob) under this process's cgroup, in every hierarchy."""
    found = []
    for name, path in _paths(os.getpid()).items():
        base = ROOT / name if name else ROOT
        found += [p for p in (base / path.lstrip("/")).glob(pattern) if p.is_dir()]
    return sorted(set(found))


def own_slice_dirs(slice_name: str) -> list[Path]:
    """Where a slice of that name under this process's cgroup sits, in every hierarchy, if it exists."""
    return own_slices(slice_name)


def worker_cgroups(pid: int, slice_name: str) -> list[Path]:
    """The ``{group}/{instance}`` cgroups in the slice *slice_name* under *pid*'s cgroup, in every hierarchy."""
    found = []
    for name, path in _paths(pid).items():
        base = (ROOT / name if name else ROOT) / path.lstrip("/") / slice_name
        found += [p for p in base.glob("*/*") if p.is_dir()]
    return sorted(found)


def slice_pids(directory: Path) -> set[int]:
    """Every pid in the cgroups at and below *directory*. The hive removes its workers' cgroups as they
    end, so a cgroup that goes while it is read is skipped, not an error (os.walk skips what vanished)."""
    pids: set[int] = set()
    for folder, _, files in os.walk(directory):
        if "cgroup.procs" in files:
            with contextlib.suppress(OSError):
                pids |= {int(line) for line in (Path(folder) / "cgroup.procs").read_text().split()}
    return pids


def remove_tree(path: Path) -> None:
    """rmdir a cgroup directory and the ones below it, deepest first (they must hold no process)."""
    for directory in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        directory.rmdir()
    path.rmdir()


def cgroup_limits(pid: int) -> dict[str, int | None]:
    """``{cpu_quota_us, cpu_period_us, memory_bytes}`` of *pid*'s cgroup (None: unlimited)."""
    paths = _paths(pid)
    if "memory" in paths:  # v1
        cpu = ROOT / "cpu" / paths["cpu"].lstrip("/")
        memory = ROOT / "memory" / paths["memory"].lstrip("/")
        return {"cpu_quota_us": _number(cpu / "cpu.cfs_quota_us"),
                "cpu_period_us": _number(cpu / "cpu.cfs_period_us"),
                "memory_bytes": _number(memory / "memory.limit_in_bytes")}
    unified = ROOT / paths[""].lstrip("/")
    quota, period = (unified / "cpu.max").read_text().split()
    return {"cpu_quota_us": None if quota == "max" else int(quota), "cpu_period_us": int(period),
            "memory_bytes": _number(unified / "memory.max")}


def cgroup_dirs_named(name: str) -> list[Path]:
    """Every cgroup directory called *name*, in every hierarchy of the host."""
    return sorted(path for path in ROOT.rglob(name) if path.is_dir())


def memory_cgroup_dir(pid: int) -> Path:
    """The directory of *pid*'s memory cgroup: the v1 memory hierarchy's, else the unified one's."""
    paths = _paths(pid)
    return ROOT / "memory" / paths["memory"].lstrip("/") if "memory" in paths else ROOT / paths[""].lstrip("/")
