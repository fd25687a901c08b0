"""A stack's settings from a scenario's table: one phrasing ("a stack with 1 hive where:") for every set-up.

Each row is ``| setting | value |``:

- ``queen --<flag>`` or ``hive --<flag>``: the daemon starts with ``--<flag>=<value>``; a value of
  ``on`` gives the bare flag; ``3 seconds`` is 3, ``96 MiB`` is 96M (the daemons' own forms);
- ``workers``: how the hives' workers behave, by a fixture wrapper (``WORKER_BEHAVIOURS``);
- ``hive config file``: the text of each hive's ``--config`` file;
- ``hive download disk``: a disk of that size for the hives' downloads (``256 KiB``); ``queen audit
  disk``: one for queen's audit trail;
- ``hive cgroups``: ``none`` runs the hives without cgroup rights;
- ``hive credentials``: ``in its environment`` gives each hive its credentials by environment variables;
  ``one per hive`` gives each hive a credential of its own for queen (queen's ``--hive-token-file``);
- ``credentials``: ``none`` runs the stack without any; ``credential files``: ``readable by others``
  writes them group- and world-readable; ``HS256 JWT key``: its length (``31 bytes``);
- ``transport``: ``TLS`` makes every hop HTTPS with a CA of the scenario's own; ``plain HTTP without
  --insecure-plaintext`` leaves that flag out where daemons listen off loopback; ``queen certificate`` or
  ``hive-1 certificate``: one of ``FAULTY`` (``expired``, ``for another name``, …) gives that node a
  faulty certificate or file (and TLS); ``hives reach queen``: ``through a relay of the harness`` puts a
  TCP relay that keeps what crosses it between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rbee_bdd.stack.transport import FAULTY

WORKER_BEHAVIOURS = {  # what the row says the workers do → the wrapper in fixtures/bin that makes them
    "hang before they are ready": "hanging-worker",
    "ignore SIGTERM": "stubborn-worker",
    "also print ordinary and malformed lines": "chatty-worker",
    "start 4 seconds late": "slow-start-worker",
    "run from the hive's own copy of the worker program": "exec-worker",
}
UNITS = {"seconds": "", "second": "", "MiB": "M"}


class SettingError(ValueError):
    """A row the table cannot mean: the message names it and what would be understood."""


@dataclass
class StackSettings:
    """What the table asks of the stack: its daemons' flags and files, its workers, its credentials."""

    queen_args: list[str] = field(default_factory=list)
    hive_args: list[str] = field(default_factory=list)
    worker_wrapper: str = ""
    hive_config: str = ""
    download_disk_bytes: int = 0
    queen_audit_disk_bytes: int = 0
    cgroups: bool = True
    hive_credentials_in_env: bool = False
    per_hive_credentials: bool = False
    credentials: bool = True
    credential_mode: int = 0o600
    hs256_key_bytes: int = 0
    tls: bool | None = None  # None: as the run's -D transport says
    allow_plaintext: bool = True
    relay: bool = False
    faulty_certs: dict[str, str] = field(default_factory=dict)

    def start_options(self) -> dict[str, Any]:
        """Keywords for ``start_stack``."""
        return {"queen_args": tuple(self.queen_args), "hive_args": tuple(self.hive_args),
                "worker_wrapper": self.worker_wrapper, "hive_config": self.hive_config,
                "download_disk_bytes": self.download_disk_bytes, "cgroups": self.cgroups,
                "queen_audit_disk_bytes": self.queen_audit_disk_bytes,
                "hive_credentials_in_env": self.hive_credentials_in_env, "credentials": self.credentials,
                "credential_mode": self.credential_mode, "hs256_key_bytes": self.hs256_key_bytes,
                "tls": self.tls, "faulty_certs": dict(self.faulty_certs), "allow_plaintext": self.allow_plaintext,
                "relay": self.relay, "per_hive_credentials": self.per_hive_credentials}


def flag_value(value: str) -> str:
    """``3 seconds`` → ``3``, ``96 MiB`` → ``96M``; anything else as it is."""
    number, _, unit = value.partition(" ")
    if unit in UNITS and re.fullmatch(r"\d+(\.\d+)?", number):
        return number + UNITS[unit]
    return value


def size_in_bytes(value: str) -> int:
    match = re.fullmatch(r"(\d+) (KiB|MiB)", value)
    if match is None:
        raise SettingError(f"a size is '<n> KiB' or '<n> MiB', not {value!r}")
    return int(match[1]) * (1024 if match[2] == "KiB" else 2**20)


def choice(setting: str, value: str, allowed: dict[str, Any]) -> Any:
    if value not in allowed:
        raise SettingError(f"{setting!r} is one of {', '.join(map(repr, allowed))}, not {value!r}")
    return allowed[value]


def apply(settings: StackSettings, setting: str, value: str) -> None:
    """Take one row into *settings*; SettingError when the row means nothing."""
    daemon, _, flag = setting.partition(" ")
    if daemon in ("queen", "hive") and flag.startswith("--") and " " not in flag:
        args = settings.queen_args if daemon == "queen" else settings.hive_args
        args.append(flag if value == "on" else f"{flag}={flag_value(value)}")
    elif setting == "workers":
        settings.worker_wrapper = choice(setting, value, WORKER_BEHAVIOURS)
    elif setting == "hive config file":
        settings.hive_config = value + "\n"
    elif setting == "hive download disk":
        settings.download_disk_bytes = size_in_bytes(value)
    elif setting == "queen audit disk":
        settings.queen_audit_disk_bytes = size_in_bytes(value)
    elif setting == "hive cgroups":
        settings.cgroups = choice(setting, value, {"none": False})
    elif setting == "hive credentials":
        kind = choice(setting, value, {"in its environment": "env", "one per hive": "own"})
        settings.hive_credentials_in_env = kind == "env"
        settings.per_hive_credentials = kind == "own"
    elif setting == "credentials":
        settings.credentials = choice(setting, value, {"none": False})
    elif setting == "credential files":
        settings.credential_mode = choice(setting, value, {"readable by others": 0o644})
    elif setting == "HS256 JWT key":
        match = re.fullmatch(r"(\d+) bytes", value)
        if match is None:
            raise SettingError(f"'HS256 JWT key' is '<n> bytes', not {value!r}")
        settings.hs256_key_bytes = int(match[1])
    elif setting == "hives reach queen":
        settings.relay = choice(setting, value, {"through a relay of the harness": True})
    elif setting == "transport":
        settings.tls, settings.allow_plaintext = choice(setting, value, {
            "TLS": (True, True), "plain HTTP": (False, True),
            "plain HTTP without --insecure-plaintext": (False, False)})
    elif setting.endswith(" certificate") and " " not in setting.removesuffix(" certificate"):
        settings.faulty_certs[setting.removesuffix(" certificate")] = choice(setting, value,
                                                                             {fault: fault for fault in FAULTY})
        settings.tls = True
    else:
        raise SettingError(f"unknown stack setting {setting!r}: a setting is 'queen --<flag>', 'hive --<flag>', "
                           "'workers', 'hive config file', 'hive download disk', 'queen audit disk', 'hive cgroups', "
                           "'hive credentials', 'credentials', 'credential files', 'HS256 JWT key', 'transport', "
                           "'<node> certificate' or 'hives reach queen'")


def table_rows(table: Any) -> list[tuple[str, str]]:
    """A behave table's ``| setting | value |`` rows (AssertionError naming the headings otherwise)."""
    assert table is not None, "the step needs a table: | setting | value |"
    assert list(table.headings) == ["setting", "value"], f"the table's headings are {table.headings}, " \
        "not | setting | value |"
    return [(row["setting"], row["value"]) for row in table]


def settings_of(rows: list[tuple[str, str]]) -> StackSettings:
    """The stack settings a table's (setting, value) rows ask for."""
    settings = StackSettings()
    for setting, value in rows:
        apply(settings, setting.strip(), value.strip())
    return settings
