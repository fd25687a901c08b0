"""The cluster credential on a daemon's own requests to other daemons (an httpx auth flow); on a hive's
calls to queen, the hive's own credential where it has one (``--queen-token-file``)."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from rbee.common.auth import Authenticator


class ClusterAuth(httpx.Auth):
    """Adds the cluster credential in force at the time to each outgoing request to another daemon."""

    def __init__(self, auth: Authenticator, to_queen: bool = False) -> None:
        self._auth = auth
        self._to_queen = to_queen

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self._auth.credentials  # the ones in force: a SIGHUP may have replaced them
        token = (self._to_queen and credentials.queen_token) or credentials.cluster_token
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request
