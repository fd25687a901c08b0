"""An optional TOML configuration file per daemon (``--config FILE``), read at start and on SIGHUP.

Its keys are the daemon's long flag names without the dashes in front (``max-workers = 2``);
its values are TOML strings, numbers or booleans, checked as the flag's own would be. Flags on
the command line win over the file. At start an unreadable file, an unknown key or a bad value
ends the daemon with exit code 2 and one line naming the file and the key. On SIGHUP the file
is read again: the keys in RELOADABLE of a daemon take effect at once, a changed key that only
a restart can apply is named in a warning, and a file that cannot be used keeps the
configuration in force and logs one error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rbee.common.cli import die

log = logging.getLogger("rbee.config")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and the key."""


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML file of settings, keys named as these flags without '--' (flags win); "
                             "read again on SIGHUP")
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, metavar="LEVEL",
                        help="DEBUG, INFO, WARNING or ERROR (default: $RBEE_LOG_LEVEL, else INFO)")


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Each long flag's action, by its name without the dashes (``--config`` itself excluded)."""
    found = {}
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--") and option not in ("--config", "--help"):
                found[option[2:]] = action
    return found


def _value(parser: argparse.ArgumentParser, key: str, action: argparse.Action, raw: Any) -> Any:
    """*raw* from the file, checked and converted as the flag's own value would be."""
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction | argparse.BooleanOptionalAction):
        if not isinstance(raw, bool):
            raise ConfigError(f"{key} must be true or false, not {raw!r}")
        return raw if not isinstance(action, argparse._StoreFalseAction) else not raw
    if isinstance(raw, bool | dict | list) or raw is None:
        raise ConfigError(f"{key} must be a string or a number, not {raw!r}")
    text = str(raw)
    try:
        value = action.type(text) if callable(action.type) else text
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise ConfigError(f"{key} has a bad value {raw!r}") from None
    if action.choices is not None and value not in action.choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, action.choices))}, not {raw!r}")
    return value


def read_config(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    """``{dest: value}`` of the file's settings; ConfigError naming the file and key when it cannot be used."""
    try:
        table = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    actions = _actions(parser)
    settings = {}
    for key, raw in table.items():
        action = actions.get(key)
        if action is None:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
        try:
            settings[action.dest] = _value(parser, key, action, raw)
        except ConfigError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
    return settings


def parse_args(parser: argparse.ArgumentParser, prog: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse *argv* over the ``--config`` file's settings (flags win); exit 2 naming a bad key."""
    add_config_argument(parser)
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--config", type=Path)
    known, _ = first.parse_known_args(argv)
    if known.config is not None:
        try:
            settings = read_config(parser, known.config)
        except ConfigError as exc:
            die(prog, str(exc), code=2)
        parser.set_defaults(**settings)
        for action in parser._actions:  # a required flag the file gives is no longer required
            if action.dest in settings:
                action.required = False
    args = parser.parse_args(argv)
    args.config_parser = parser
    args.config_explicit = explicit_dests(parser, argv)
    return args


def explicit_dests(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> set[str]:
    """The dests given on the command line itself (a reload never overrides those)."""
    words = list(sys.argv[1:] if argv is None else argv)
    given = set()
    for key, action in _actions(parser).items():
        if any(w == f"--{key}" or w.startswith(f"--{key}=") for w in words):
            given.add(action.dest)
    return given


class Reloader:
    """SIGHUP: reads the config file again and applies what may change at run time."""

    def __init__(self, args: argparse.Namespace, reloadable: dict[str, Callable[[Any], None]]) -> None:
        self.path: Path | None = args.config
        self.parser: argparse.ArgumentParser = args.config_parser
        self.explicit: set[str] = args.config_explicit
        self.reloadable = {"log_level": set_log_level, **reloadable}  # dest → how to apply a new value
        self.current = {dest: getattr(args, dest) for dest in vars(args) if not dest.startswith("config")}

    def reload(self) -> bool:
        """Apply the file's changed run-time settings; False (and one error logged) when it cannot be used."""
        if self.path is None:
            return True
        try:
            settings = read_config(self.parser, self.path)
        except ConfigError as exc:
            log.error("configuration not reloaded, the previous one stays in force: %s", exc)
            return False
        changed = {dest: value for dest, value in settings.items()
                   if dest not in self.explicit and self.current.get(dest) != value}
        for dest, value in changed.items():
            flag = dest.replace("_", "-")
            if dest in self.reloadable:
                self.reloadable[dest](value)
                self.current[dest] = value
                log.warning("configuration reloaded: %s = %r", flag, value)
            else:
                log.warning("configuration: %s changes only at a restart; %r stays in force", flag,
                            self.current.get(dest))
        return True


def set_log_level(level: str | None) -> None:
    logging.getLogger().setLevel(level or "INFO")


def on_sighup(*reloads: Callable[[], object]) -> Callable[[], None]:
    """One SIGHUP handler that runs each reload (credentials, configuration) in turn."""
    def reload() -> None:
        for each in reloads:
            each()
    return reload
