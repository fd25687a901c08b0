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
    """The secret in *path* if given, else in the environment variable *env_name*, else "".

    A variable that is set but blank is refused, not taken as no credential: a daemon meant to
    run with one must never start open because of it.
    """
    if path is not None:
        return read_secret_file(path, what)
    value = os.environ.get(env_name)
    if value is not None and not value.strip():
        raise SecretError(f"${env_name} is set but empty")
    return (value or "").strip()


# systemd's LoadCredential= puts a unit's credentials in $CREDENTIALS_DIRECTORY: the names a
# daemon looks for there when no flag names a file, by the flag they stand for
CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"
WELL_KNOWN = {
    "token_file": "rbee-tokens",
    "cluster_token_file": "rbee-cluster-token",
    "jwt_hs256_key_file": "rbee-jwt-hs256-key",
    "jwt_rs256_public_key_file": "rbee-jwt-rs256-public-key",
}


def from_credentials_directory(dest: str) -> Path | None:
    """The file for the flag *dest* in ``$CREDENTIALS_DIRECTORY``, when it is set and holds one."""
    folder = os.environ.get(CREDENTIALS_DIRECTORY)
    if not folder or dest not in WELL_KNOWN:
        return None
    path = Path(folder) / WELL_KNOWN[dest]
    return path if path.exists() else None
