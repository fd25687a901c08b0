"""Reading a process's usage straight from /proc (Linux): cheap enough to do every heartbeat."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def boot_time() -> float:
    """Seconds since the epoch at which the machine booted."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


@dataclass(frozen=True)
class ProcUsage:
    started_at: float  # epoch seconds
    cpu_s: float  # user + system
    rss_bytes: int
    read_bytes: int  # rchar: bytes read through syscalls
    write_bytes: int  # wchar


def read_usage(pid: int, booted_at: float) -> ProcUsage:
    """One process's start time, CPU time, resident memory and I/O; OSError if it is gone."""
    with open(f"/proc/{pid}/stat") as handle:
        stat = handle.read()
    fields = stat[stat.rfind(")") + 2:].split()
    with open(f"/proc/{pid}/statm") as handle:
        rss_pages = int(handle.read().split()[1])
    io = {}
    with open(f"/proc/{pid}/io") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            io[key] = value
    return ProcUsage(
        started_at=booted_at + int(fields[19]) / CLOCK_TICKS,
        cpu_s=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        rss_bytes=rss_pages * PAGE_SIZE,
        read_bytes=int(io.get("rchar", 0)),
        write_bytes=int(io.get("wchar", 0)),
    )


def read_cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
