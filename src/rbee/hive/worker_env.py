"""What a worker process is given: a minimal environment, and the cluster credential in a private file.

A worker inherits only the variables named here (and those an operator names with
``--worker-env``), never the hive's whole environment: a hive given its cluster token in
``$RBEE_CLUSTER_TOKEN`` (or holding a client's ``$RBEE_TOKEN``) must not hand it on, since
``/proc/<pid>/environ`` of the worker would show it. The worker gets the cluster credential in
force from a file of the hive's own private run folder instead, rewritten at every rotation.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

# What every worker inherits from the hive, when the hive has it: how to find programs and
# libraries, the locale and time zone, Python's own settings, the log level, coverage.py's.
PASSED_NAMES = frozenset({
    "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH",
    "PYTHONPATH", "PYTHONHOME", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV",
    "RBEE_LOG_LEVEL", "COVERAGE_PROCESS_START", "COVERAGE_FILE",
})
PASSED_PREFIXES = ("LC_",)
# Never passed, whatever --worker-env names: the credentials a hive or a user may hold.
CREDENTIAL_NAMES = frozenset({"RBEE_CLUSTER_TOKEN", "RBEE_TOKEN"})
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def env_names(text: str) -> tuple[str, ...]:
    """argparse type of ``--worker-env NAME[,NAME…]``: variable names, none of them a credential."""
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        if not VARIABLE.match(name):
            raise argparse.ArgumentTypeError(f"{name[:40]!r} is not an environment variable name")
        if name in CREDENTIAL_NAMES:
            raise argparse.ArgumentTypeError(f"{name} is a credential: workers get the cluster credential "
                                             f"from a file the hive writes, never from the environment")
    return names


def worker_environment(parent: Mapping[str, str], extra_names: Iterable[str],
                       own: Mapping[str, str]) -> dict[str, str]:
    """The environment of a new worker: what *parent* has of the passed names, then *own* (the job's)."""
    passed = set(PASSED_NAMES) | set(extra_names)
    env = {name: value for name, value in parent.items()
           if (name in passed or name.startswith(PASSED_PREFIXES)) and name not in CREDENTIAL_NAMES}
    return {**env, **own}


class WorkerCredential:
    """The cluster credential in force, in a file only the hive's user can read, for its workers.

    ``generation`` counts the changes: a worker started under an older one is told (SIGHUP) to
    read the file again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.generation = 0
        self._token = ""

    def write(self, token: str) -> bool:
        """Put *token* in the file (whole, at once); True when it changed."""
        if token == self._token:
            return False
        staged = self.path.with_name(self.path.name + ".new")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(token + "\n")
        os.replace(staged, self.path)
        self._token = token
        self.generation += 1
        return True
