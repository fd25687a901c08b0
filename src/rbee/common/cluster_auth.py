"""The cluster credential on a daemon's own requests to other daemons (an httpx auth flow)."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from rbee.common.auth import Authenticator


class ClusterAuth(httpx.Auth):
    """Adds the cluster credential in force at the time to each outgoing request to another daemon."""

    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._auth.credentials.cluster_token
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request
