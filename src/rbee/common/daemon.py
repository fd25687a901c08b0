"""What every daemon's ``main`` does first: its command line (an options table, the security
flags, the --config file), its logging and security set-up, and its listening socket."""

from __future__ import annotations

import argparse
import socket
from typing import Any

from rbee.common import config
from rbee.common.cli import ArgumentParser, die, setup_logging
from rbee.common.security import Security, add_security_arguments, security_from_args
from rbee.common.server import bind

Options = list[tuple[str, dict[str, Any]]]  # flag and add_argument's keywords, in --help's order


def command_line(prog: str, description: str, options: Options,
                 argv: list[str] | None) -> tuple[argparse.Namespace, Security]:
    """The daemon's arguments (flags, then its --config file) and its security set-up; exits on a bad one."""
    parser = ArgumentParser(prog=prog, description=description)
    for flag, keywords in options:
        parser.add_argument(flag, **keywords)
    add_security_arguments(parser)
    args = config.parse_args(parser, prog, argv)
    setup_logging(prog, args.log_level)
    return args, security_from_args(prog, args)


def listen(prog: str, host: str, port: int) -> socket.socket:
    """The daemon's listening socket; exits naming the address when it cannot have it."""
    try:
        return bind(host, port)
    except OSError as exc:
        die(prog, f"cannot listen on {host}:{port}: {exc.strerror}")
