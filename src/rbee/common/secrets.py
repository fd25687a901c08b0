"""Reading credentials: from files only their owner can read, or from the environment; never argv."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class SecretError(Exception):
    """A credential file is missing, unreadable, empty, or readable by others."""


def read_secret_file(path: Path, what: str) -> str:
    """The contents of *path*, stripped; refused when group or others may read or write it."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
                              f"make it private: chmod 600 {path}")
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SecretError(f"{what} {path} is not UTF-8 text") from None
    if not text:
        raise SecretError(f"{what} {path} is empty")
    return text


def secret_from(path: Path | None, env_name: str, what: str) -> str:
    """The secret in *path* if given, else in the environment variable *env_name*, else ""."""
    if path is not None:
        return read_secret_file(path, what)
    return os.environ.get(env_name, "").strip()
