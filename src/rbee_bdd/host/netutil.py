"""Small network helpers for the harness."""

from __future__ import annotations

import secrets
import socket


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released, by the OS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def own_loopback_address() -> str | None:
    """A random address of 127.0.0.0/8 other than 127.0.0.1, if this host lets a socket bind it.

    Linux routes all of 127.0.0.0/8 to the loopback device; a daemon given such an address of its
    own and a port below the ephemeral range has an address known before it starts that no other
    socket is given by the OS (other hosts, macOS among them, have 127.0.0.1 only: None)."""
    while (address := f"127.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}") \
            == "127.0.0.1":
        continue
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return None
    return address
