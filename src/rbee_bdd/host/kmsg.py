"""The kernel's own log (/dev/kmsg), read by the harness: evidence of an OOM kill that does not
depend on what the stack reports about it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

KMSG = "/dev/kmsg"
OOM_KILL = re.compile(r"oom-kill:.*?oom_memcg=(?P<memcg>[^,]*),.*?task=(?P<task>[^,]*),pid=(?P<pid>\d+)")


@dataclass(frozen=True)
class OomKill:
    memcg: str  # the memory cgroup whose limit was hit
    task: str
    pid: int  # as the host sees it


def kernel_log() -> list[str]:
    """Every record the kernel's ring buffer holds now (root; oldest first)."""
    records = []
    fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                records.append(os.read(fd, 8192).decode(errors="replace"))
            except BlockingIOError:
                return records
            except BrokenPipeError:  # a record overwritten while read: go on with the next
                continue
    finally:
        os.close(fd)


def oom_kills(records: list[str] | None = None) -> list[OomKill]:
    """The OOM kills the kernel logged."""
    found = []
    for record in kernel_log() if records is None else records:
        if match := OOM_KILL.search(record):
            found.append(OomKill(match["memcg"], match["task"], int(match["pid"])))
    return found


def oom_kills_in_cgroup(instance: str) -> list[OomKill]:
    """The OOM kills the kernel logged in the cgroup of a worker (its last path part is the worker id)."""
    return [kill for kill in oom_kills() if kill.memcg.rstrip("/").rsplit("/", 1)[-1] == instance]


def kmsg_reason() -> str | None:
    """None if this process can read the kernel's log, else why not."""
    try:
        os.close(os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as exc:
        return f"{KMSG} cannot be read ({exc.strerror}): the kernel's log of OOM kills needs root"
    return None
