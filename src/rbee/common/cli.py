"""Command-line plumbing shared by the daemons: one clear line on bad input, never a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import NoReturn

from rbee.common.logdedup import RepeatFilter


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive(text: str) -> float:
    """argparse type: a number greater than zero."""
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


def non_negative(text: str) -> float:
    """argparse type: a number, zero or more."""
    value = float(text)
    if value < 0:
        raise ValueError(text)
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number, one or more."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def non_negative_int(text: str) -> int:
    """argparse type: a whole number, zero or more."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def die(prog: str, message: str, code: int = 1) -> NoReturn:
    """Print ``prog: error: message`` on stderr and exit with *code*."""
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def setup_logging(prog: str, level: str | None = None) -> None:
    """Plain log lines on stderr: time, level, program, message; at *level*, else $RBEE_LOG_LEVEL, else INFO."""
    level = (level or os.environ.get("RBEE_LOG_LEVEL", "INFO")).upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s {prog} %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.addFilter(RepeatFilter())  # one line per kind of warning or error per interval, with a count
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    # httpx logs every request it sends at INFO: under load a line per dispatch, spawn try and relay
    # (queen's own lines say what matters); at DEBUG they come back
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
