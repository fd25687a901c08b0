"""Where the Debian bookworm trees of the images and of the cgroup v2 guest come from.

On a Debian host, mmdebstrap reads the host's own apt sources (its mirror, its proxy, its
keys). Elsewhere (an Ubuntu CI runner, say) it needs Debian's mirror and Debian's keyring
named: ``RBEE_DEBIAN_MIRROR`` (default http://deb.debian.org/debian) and the keyring of the
``debian-archive-keyring`` package, installed with mmdebstrap when missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class ToolMissing(Exception):
    """mmdebstrap (or Debian's keyring) is missing and cannot be installed here."""


def mmdebstrap_args(suite: str = "bookworm") -> tuple[list[str], list[str]]:
    """(options, mirrors) for ``mmdebstrap [options] SUITE TARGET [mirrors]``."""
    if HOST_SOURCES.exists() and "RBEE_DEBIAN_MIRROR" not in os.environ:
        return [], [str(HOST_SOURCES)]
    mirror = os.environ.get("RBEE_DEBIAN_MIRROR", DEFAULT_MIRROR)
    return [f"--keyring={KEYRING}"], [f"deb {mirror} {suite} main"]


def ensure_mmdebstrap(say: Callable[[str], None] = print) -> None:
    """Install mmdebstrap (and, off Debian, Debian's keyring) from the host's packages when missing."""
    wanted = [] if shutil.which("mmdebstrap") else ["mmdebstrap"]
    if mmdebstrap_args()[0] and not KEYRING.exists():
        wanted.append("debian-archive-keyring")
    if not wanted:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ToolMissing(f"{' and '.join(wanted)} missing; install them (`apt-get install {' '.join(wanted)}`)")
    say(f"installing {' and '.join(wanted)} from the host's packages…")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *wanted]):
        if subprocess.run(command, check=False, stdout=subprocess.DEVNULL).returncode != 0:
            raise ToolMissing(f"`{' '.join(command)}` failed")
