"""Where a hive may download models from: the hubs an operator listed, and never the hive's own networks.

Provisioning makes the hive fetch a URL its caller names. Unchecked, a caller could point it at
addresses only the hive can reach (its loopback, the cluster's private network, a cloud's
link-local metadata service) and learn from the answers what is there. So a URL is fetched only
when it is under a ``--model-hub`` base URL; with no hub listed, only from hosts whose every
address is a public one. A refused URL is never requested.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from rbee.common.errors import RbeeError


def hub_url(text: str) -> SplitResult:
    """argparse type of ``--model-hub``: ``http(s)://host[:port][/path]`` and nothing more."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query \
            or parts.fragment:
        raise argparse.ArgumentTypeError(f"{text[:80]!r}: give http(s)://host[:port][/path], without user, "
                                         f"query or fragment")
    return parts


def _under(url: SplitResult, hub: SplitResult) -> bool:
    if (url.scheme, url.hostname) != (hub.scheme, hub.hostname):
        return False
    if hub.port is not None and url.port != hub.port:
        return False
    base = hub.path.rstrip("/")
    return not base or url.path == base or url.path.startswith(base + "/")


def _public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%")[0]).is_global


class HubPolicy:
    """Answers whether a URL may be fetched; refuses with 403 ``URL_NOT_ALLOWED`` otherwise."""

    def __init__(self, hubs: list[SplitResult]) -> None:
        self.hubs = hubs

    async def check(self, text: str) -> None:
        try:
            url = urlsplit(text)
            url.port  # noqa: B018
        except ValueError:
            raise RbeeError("URL_NOT_ALLOWED", "the URL cannot be parsed", 403) from None
        if url.scheme not in ("http", "https") or not url.hostname or url.username:
            raise RbeeError("URL_NOT_ALLOWED", "only http(s) URLs without credentials are fetched", 403)
        if self.hubs:
            if not any(_under(url, hub) for hub in self.hubs):
                raise RbeeError("URL_NOT_ALLOWED", "the URL is under none of this hive's --model-hub URLs", 403)
            return
        if not await self._only_public(url.hostname, url.port or (443 if url.scheme == "https" else 80)):
            raise RbeeError("URL_NOT_ALLOWED", "the URL's host is a loopback, link-local or private address "
                            "(list it with --model-hub to allow it)", 403)

    @staticmethod
    async def _only_public(host: str, port: int) -> bool:
        try:
            return _public(host)
        except ValueError:  # a name: every address it resolves to must be public
            pass
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return False
        return bool(found) and all(_public(str(info[4][0])) for info in found)
