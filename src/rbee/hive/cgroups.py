"""Per-worker cgroups: ``rbee.slice/{group}/{instance}`` with a CPU and a memory limit.

cgroup v2 where its cpu and memory controllers are available, v1 (cpu, cpuacct, memory
hierarchies) otherwise. The slice sits under the hive's own cgroup, so a hive in a
container keeps its workers inside the container's cgroup. Where nothing can be
written, :func:`detect` says why and the hive runs workers without cgroups.

On cgroup v2 the hive's own cgroup is taken as delegated to it (a systemd service with
``Delegate=yes``, a container's cgroup): a cgroup that holds processes cannot give
controllers to its children, so the processes of that cgroup are moved into its leaf
``rbee.leaf`` first (:func:`make_inner`). A hive that finds itself in such a leaf (the
supervisor that restarts it was moved there) uses the leaf's parent, so its slice stays
where its workers are.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

SLICE = "rbee.slice"
LEAF = "rbee.leaf"  # v2: where the processes of the hive's own cgroup go (no process in an inner node)
V2_CONTROLLERS = "+cpu +memory\n"
V1_CONTROLLERS = ("cpu", "cpuacct", "memory")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class CgroupError(Exception):
    """A cgroup could not be created, limited, joined or removed."""


@dataclass(frozen=True)
class Limits:
    """CPU as cpu.max's ``quota period`` (quota None = no limit); memory in bytes (None = none)."""

    cpu_quota_us: int | None = None
    cpu_period_us: int = 100_000
    memory_bytes: int | None = None


def parse_cpu_limit(text: str) -> tuple[int | None, int]:
    """``"50000 100000"`` or ``"max 100000"`` (cpu.max's format) → (quota, period)."""
    parts = text.split()
    if len(parts) not in (1, 2):
        raise ValueError(f"cpu limit {text!r} is not 'QUOTA PERIOD' (e.g. '50000 100000' or 'max')")
    try:
        period = int(parts[1]) if len(parts) == 2 else 100_000
        quota = None if parts[0] == "max" else int(parts[0])
    except ValueError:
        raise ValueError(f"cpu limit {text!r} is not 'QUOTA PERIOD' (e.g. '50000 100000' or 'max')") from None
    if not 1_000 <= period <= 1_000_000:
        raise ValueError(f"cpu limit period {period} must be between 1000 and 1000000 µs")
    if quota is not None and quota < 1_000:
        raise ValueError(f"cpu limit quota {quota} must be at least 1000 µs")
    return quota, period


def parse_memory_limit(text: str) -> int:
    """``"268435456"``, ``"256M"``, ``"1G"`` → bytes (at least 4 MiB)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)i?[bB]?\s*", text)
    if match is None:
        raise ValueError(f"memory limit {text!r} is not a size like 268435456, 256M or 1G")
    value = int(match[1]) * _UNITS[match[2].lower()]
    if value < 4 * 1024**2:
        raise ValueError(f"memory limit {text!r} is below the 4 MiB minimum")
    return value


def check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise CgroupError(f"{kind} name {name!r} is not a valid cgroup name")
    return name


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value.strip()!r} to {path}: {exc.strerror}") from None


def _read_int(path: Path, key: str | None = None) -> int:
    """An integer file, or the value of *key* in a ``key value`` file; 0 if absent."""
    try:
        text = path.read_text()
    except OSError:
        return 0
    if key is None:
        return int(text.split()[0]) if text.strip() and text.split()[0].isdigit() else 0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def _subdirs(path: Path) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


class Cgroup(ABC):
    """One worker's cgroup."""

    def __init__(self, group: str, instance: str) -> None:
        self.group = group
        self.instance = instance

    @abstractmethod
    def dirs(self) -> list[Path]:
        """Its directory in every hierarchy it lives in."""

    def join(self, pid: int = 0) -> None:
        """Move *pid* (0: the calling process) into the cgroup."""
        for directory in self.dirs():
            _write(directory / "cgroup.procs", f"{pid}\n")

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.dirs()[0] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    @abstractmethod
    def cpu_usage_ns(self) -> int: ...

    @abstractmethod
    def memory_bytes(self) -> int: ...

    @abstractmethod
    def oom_kills(self) -> int: ...

    def remove(self) -> None:
        """Remove the (empty) instance directory, and its group's when that is empty too."""
        for directory in self.dirs():
            for path in (directory, directory.parent):
                try:
                    path.rmdir()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    if path == directory:
                        raise CgroupError(f"cannot remove {path}: {exc.strerror}") from None
                    break  # the group still has other instances


class CgroupTree(ABC):
    """Where the hive's worker cgroups live, and how to make and find them."""

    version: int

    @abstractmethod
    def create(self, group: str, instance: str, limits: Limits) -> Cgroup: ...

    @abstractmethod
    def open(self, group: str, instance: str) -> Cgroup: ...

    @abstractmethod
    def slice_dir(self) -> Path:
        """The slice in the first hierarchy; the tree walked to enumerate workers."""

    @abstractmethod
    def slice_dirs(self) -> list[Path]:
        """The slice in every hierarchy."""

    def remove_slice(self) -> None:
        """Remove the slice and its group directories where they are empty."""
        for root in self.slice_dirs():
            for group in _subdirs(root):
                with contextlib.suppress(OSError):
                    (root / group).rmdir()
            with contextlib.suppress(OSError):
                root.rmdir()

    def walk(self) -> list[Cgroup]:
        """Every ``{group}/{instance}`` under the slice (scandir: no stat of the many cgroup files)."""
        found = []
        for group in _subdirs(self.slice_dir()):
            for instance in _subdirs(self.slice_dir() / group):
                found.append(self.open(group, instance))
        return found


class V2Cgroup(Cgroup):
    def __init__(self, group: str, instance: str, directory: Path) -> None:
        super().__init__(group, instance)
        self.directory = directory

    def dirs(self) -> list[Path]:
        return [self.directory]

    def cpu_usage_ns(self) -> int:
        return _read_int(self.directory / "cpu.stat", "usage_usec") * 1000

    def memory_bytes(self) -> int:
        return _read_int(self.directory / "memory.current")

    def oom_kills(self) -> int:
        return _read_int(self.directory / "memory.events", "oom_kill")


class V2Tree(CgroupTree):
    """cgroup v2: one hierarchy; controllers enabled down the slice through subtree_control."""

    version = 2

    def __init__(self, parent: Path, slice_name: str = SLICE) -> None:
        self.root = parent / slice_name

    def slice_dir(self) -> Path:
        return self.root

    def slice_dirs(self) -> list[Path]:
        return [self.root]

    def open(self, group: str, instance: str) -> Cgroup:
        return V2Cgroup(group, instance, self.root / group / instance)

    def create(self, group: str, instance: str, limits: Limits) -> Cgroup:
        cgroup = V2Cgroup(check_name("group", group), check_name("instance", instance),
                          self.root / group / instance)
        try:
            cgroup.directory.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise CgroupError(f"cannot create {cgroup.directory}: {exc.strerror}") from None
        make_inner(self.root.parent)
        for level in (self.root, self.root / group):
            _write(level / "cgroup.subtree_control", V2_CONTROLLERS)
        quota = "max" if limits.cpu_quota_us is None else str(limits.cpu_quota_us)
        _write(cgroup.directory / "cpu.max", f"{quota} {limits.cpu_period_us}\n")
        memory = "max" if limits.memory_bytes is None else str(limits.memory_bytes)
        _write(cgroup.directory / "memory.max", f"{memory}\n")
        return cgroup


class V1Cgroup(Cgroup):
    def __init__(self, group: str, instance: str, roots: dict[str, Path]) -> None:
        super().__init__(group, instance)
        self.by_controller = {name: root / group / instance for name, root in roots.items()}

    def dirs(self) -> list[Path]:
        return list(dict.fromkeys(self.by_controller.values()))

    def cpu_usage_ns(self) -> int:
        return _read_int(self.by_controller["cpuacct"] / "cpuacct.usage")

    def memory_bytes(self) -> int:
        return _read_int(self.by_controller["memory"] / "memory.usage_in_bytes")

    def oom_kills(self) -> int:
        return _read_int(self.by_controller["memory"] / "memory.oom_control", "oom_kill")


class V1Tree(CgroupTree):
    """cgroup v1: a slice in each of the cpu, cpuacct and memory hierarchies."""

    version = 1

    def __init__(self, roots: dict[str, Path], slice_name: str = SLICE) -> None:
        self.roots = {name: root / slice_name for name, root in roots.items()}

    def slice_dir(self) -> Path:
        return self.roots["memory"]

    def slice_dirs(self) -> list[Path]:
        return list(dict.fromkeys(self.roots.values()))

    def open(self, group: str, instance: str) -> Cgroup:
        return V1Cgroup(group, instance, self.roots)

    def create(self, group: str, instance: str, limits: Limits) -> Cgroup:
        cgroup = V1Cgroup(check_name("group", group), check_name("instance", instance), self.roots)
        for directory in cgroup.dirs():
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CgroupError(f"cannot create {directory}: {exc.strerror}") from None
        cpu = cgroup.by_controller["cpu"]
        _write(cpu / "cpu.cfs_period_us", f"{limits.cpu_period_us}\n")
        _write(cpu / "cpu.cfs_quota_us", f"{-1 if limits.cpu_quota_us is None else limits.cpu_quota_us}\n")
        memory = -1 if limits.memory_bytes is None else limits.memory_bytes
        _write(cgroup.by_controller["memory"] / "memory.limit_in_bytes", f"{memory}\n")
        return cgroup


def make_inner(cgroup: Path, attempts: int = 5) -> None:
    """Give *cgroup*'s children the cpu and memory controllers (v2). Where its own processes stand
    in the way (EBUSY: no process in an inner node), they are moved into its leaf ``rbee.leaf``."""
    control = cgroup / "cgroup.subtree_control"
    for _ in range(attempts):
        try:
            control.write_text(V2_CONTROLLERS)
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise CgroupError(f"cannot write {V2_CONTROLLERS.strip()!r} to {control}: {exc.strerror}") from None
        leaf = cgroup / LEAF
        try:
            leaf.mkdir(exist_ok=True)
            pids = (cgroup / "cgroup.procs").read_text().split()
        except OSError as exc:
            raise CgroupError(f"cannot make the leaf {leaf}: {exc.strerror}") from None
        for pid in pids:
            try:
                (leaf / "cgroup.procs").write_text(f"{pid}\n")
            except ProcessLookupError:
                continue  # it exited meanwhile
            except OSError as exc:
                raise CgroupError(f"cannot move process {pid} into {leaf}: {exc.strerror}") from None
    raise CgroupError(f"{cgroup} still holds processes after {attempts} moves into {LEAF}; "
                      "its controllers cannot be given to its children")


def own_paths(proc_cgroup: Path = Path("/proc/self/cgroup")) -> dict[str, str]:
    """This process's cgroup path per v1 controller, and ``""`` for the v2 hierarchy."""
    paths: dict[str, str] = {}
    for line in proc_cgroup.read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def detect(fs_root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup"),
           platform: str | None = None, slice_name: str = SLICE) -> CgroupTree | str:
    """The tree to use here (the slice under this process's own cgroup), or why there is none."""
    if (platform or sys.platform) != "linux":
        return f"cgroups exist only on Linux (this is {platform or sys.platform})"
    try:
        paths = own_paths(proc_cgroup)
    except OSError as exc:
        return f"cannot read {proc_cgroup}: {exc.strerror}"
    unified = fs_root / "cgroup.controllers"
    if unified.exists():
        parent = fs_root / paths.get("", "/").lstrip("/")
        if parent.name == LEAF:
            parent = parent.parent
        controllers = (parent / "cgroup.controllers").read_text().split() if parent.exists() else []
        if {"cpu", "memory"} <= set(controllers) and os.access(parent, os.W_OK):
            return V2Tree(parent, slice_name)
        return f"cgroup v2 at {parent} lacks cpu/memory controllers or is not writable"
    roots = {}
    for name in V1_CONTROLLERS:
        mount = next((fs_root / m for m in (name, "cpu,cpuacct") if (fs_root / m).is_dir()), None)
        if mount is None:
            return f"no cgroup v1 {name} hierarchy under {fs_root}"
        roots[name] = mount / paths.get(name, paths.get("cpu,cpuacct", "/")).lstrip("/")
        if not os.access(roots[name], os.W_OK):
            return f"{roots[name]} is not writable (the hive needs root and a writable cgroupfs)"
    return V1Tree(roots, slice_name)
