"""A daemon's bounds on its connections: how many at once, how long a request's headers and body may take.

Counted process-wide (one server per daemon process) and shown at ``GET /metrics``. Without these
bounds, sockets that send half a request stay open as long as the client likes: enough of them
use up the process's file descriptors and every new client, health checks included, times out.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger("rbee.server")

DEFAULT_MAX_CONNECTIONS = 2048
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
SPARE_DESCRIPTORS = 128  # files, pipes and outgoing connections beside the served ones


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S


@dataclass
class ConnectionCounts:
    """What the limits did, since the process started."""

    open: int = 0
    refused: int = 0  # closed at once with 503: the connection cap was reached
    header_timeouts: int = 0  # closed: no complete request headers within the bound
    body_timeouts: int = 0  # answered 408: the body did not arrive within the bound


COUNTS = ConnectionCounts()


def raise_file_limit(limits: ConnectionLimits) -> ConnectionLimits:
    """Raise the soft file limit to the hard one (no privilege needed) and log both; a connection cap
    the hard limit cannot hold is lowered to what it can, with a warning."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    was = soft
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("file limit: could not raise the soft limit %d to the hard limit %d: %s", soft, hard, exc)
        else:
            soft = hard
    log.info("file limit: soft %d (was %d), hard %d; at most %d connections", soft, was, hard,
             limits.max_connections)
    room = soft - SPARE_DESCRIPTORS if soft != resource.RLIM_INFINITY else limits.max_connections
    if limits.max_connections > room:
        log.warning("--max-connections %d is more than the file limit %d allows: %d", limits.max_connections,
                    soft, max(1, room))
        return ConnectionLimits(max(1, room), limits.header_timeout_s, limits.body_timeout_s)
    return limits
