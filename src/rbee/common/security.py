"""A daemon's security set-up from its command line: credentials, audit trail, safe binding, reload."""

from __future__ import annotations

import argparse
import collections
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from rbee.common.audit import AuditLog
from rbee.common.auth import CLUSTER_TOKEN_ENV, Authenticator, AuthSettings
from rbee.common.cli import die, non_negative_int, positive, positive_int
from rbee.common.connections import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_MAX_CONNECTIONS,
    ConnectionLimits,
)
from rbee.common.guard import DEFAULT_MAX_BODY, Guard, Route
from rbee.common.secrets import WELL_KNOWN, SecretError, from_credentials_directory
from rbee.common.throttle import DEFAULT_LIMIT, DEFAULT_WINDOW_S, AuthFailureThrottle
from rbee.common.tls import Tls, add_tls_arguments, tls_from_args

if TYPE_CHECKING:
    from rbee.common.cluster_auth import ClusterAuth


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every daemon takes. Credentials come from files (or the environment), never argv."""
    group = parser.add_argument_group("security (credentials are read from files; SIGHUP reloads them)")
    group.add_argument("--token-file", type=Path, metavar="FILE",
                       help="client tokens, one 'NAME SCOPE TOKEN' per line (scope: read, submit or admin)")
    group.add_argument("--cluster-token-file", type=Path, metavar="FILE",
                       help=f"the credential daemons use with each other (or ${CLUSTER_TOKEN_ENV})")
    group.add_argument("--hive-token-file", type=Path, metavar="FILE",
                       help="queen: each hive's own credential, 'HIVE_ID TOKEN' per line; then only it may post "
                            "that hive's heartbeats and narration (not the cluster credential)")
    group.add_argument("--queen-token-file", type=Path, metavar="FILE",
                       help="a hive: the credential it presents to queen (its line of queen's --hive-token-file)")
    group.add_argument("--jwt-hs256-key-file", type=Path, metavar="FILE", help="shared key of HS256 JWTs")
    group.add_argument("--jwt-rs256-public-key-file", type=Path, metavar="FILE",
                       help="PEM public key of RS256 JWTs")
    group.add_argument("--jwt-issuer", default="", help="the 'iss' every JWT must carry")
    group.add_argument("--jwt-audience", default="", help="the 'aud' every JWT must carry")
    group.add_argument("--jwt-leeway", type=positive, default=30.0, metavar="SECONDS",
                       help="clock skew allowed on exp and nbf")
    group.add_argument("--audit-log", type=Path, metavar="FILE",
                       help="append security events here as hash-chained JSON lines")
    group.add_argument("--audit-syslog", type=syslog_address, metavar="HOST:PORT",
                       help="also send each audit record there, as one syslog message over UDP (a copy off "
                            "the machine: the only defence against someone who can rewrite the trail and its anchor)")
    group.add_argument("--audit-max-bytes", type=non_negative_int, default=0, metavar="BYTES",
                       help="rotate the audit trail to FILE.<n> before a record would take it past this; the "
                            "chain runs on across the files (0: never; rotated files are never deleted)")
    group.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES",
                       help="larger request bodies are refused with 413")
    group.add_argument("--auth-failure-limit", type=non_negative_int, default=DEFAULT_LIMIT, metavar="N",
                       help="after N refusals for credentials from one address within the window, that "
                            "address gets 429 TOO_MANY_AUTH_FAILURES until it passes (0: no limit)")
    group.add_argument("--auth-failure-window", type=positive, default=DEFAULT_WINDOW_S, metavar="SECONDS")
    add_tls_arguments(parser)
    limits = parser.add_argument_group("connection limits")
    limits.add_argument("--max-connections", type=positive_int, default=DEFAULT_MAX_CONNECTIONS, metavar="N",
                        help="connections served at once; more are answered 503 TOO_MANY_CONNECTIONS and closed")
    limits.add_argument("--header-timeout", type=positive, default=DEFAULT_HEADER_TIMEOUT_S, metavar="SECONDS",
                        help="a connection that has not sent a whole request's headers this long is closed")
    limits.add_argument("--body-timeout", type=positive, default=DEFAULT_BODY_TIMEOUT_S, metavar="SECONDS",
                        help="a request whose body has not all arrived this long is answered 408")


@dataclass
class Security:
    """What a daemon checks its callers with, and what it records."""

    auth: Authenticator
    audit: AuditLog
    max_body: int
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    throttle: AuthFailureThrottle = field(default_factory=AuthFailureThrottle)
    denials: collections.Counter[str] = field(default_factory=collections.Counter)  # refusals by reason
    tls: Tls = field(default_factory=Tls)
    insecure_plaintext: bool = False  # --insecure-plaintext: handed on to the processes the daemon starts

    def transport_flags(self) -> list[str]:
        """The daemon's transport, for a process it starts on the same machine (a hive's workers)."""
        return self.tls.flags() or (["--insecure-plaintext"] if self.insecure_plaintext else [])

    def guard(self, app: FastAPI, routes: list[Route]) -> Guard:
        return Guard(app, routes, self.auth, self.audit, self.max_body, self.denials, self.limits.body_timeout_s,
                     self.throttle)

    def reload(self) -> None:
        """SIGHUP: read the credential files again; an error keeps the old ones (and is logged)."""
        done = self.auth.reload()
        self.audit.record("reload", "ok" if done else "failed", principal="signal:SIGHUP")

    def cluster_auth(self, to_queen: bool = False) -> ClusterAuth:
        """The credential on the daemon's own calls: the cluster's; *to_queen*, a hive's own where it has one."""
        from rbee.common.cluster_auth import ClusterAuth  # here: httpx (~0.1 CPU-s to import) only where used

        return ClusterAuth(self.auth, to_queen)


def syslog_address(text: str) -> tuple[str, int]:
    """argparse type of ``--audit-syslog``: ``HOST:PORT`` (``[v6]:PORT`` for an IPv6 address)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text[:80]!r}: give HOST:PORT")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def security_from_args(prog: str, args: argparse.Namespace) -> Security:
    """Load the credentials the flags name (or $CREDENTIALS_DIRECTORY holds); exit 2 with one line on a bad
    file or an unsafe bind."""
    for dest in WELL_KNOWN:
        if getattr(args, dest) is None:
            setattr(args, dest, from_credentials_directory(dest))
    settings = AuthSettings(token_file=args.token_file, cluster_token_file=args.cluster_token_file,
                            hive_token_file=args.hive_token_file, queen_token_file=args.queen_token_file,
                            jwt_hs256_key_file=args.jwt_hs256_key_file,
                            jwt_rs256_public_key_file=args.jwt_rs256_public_key_file,
                            jwt_issuer=args.jwt_issuer, jwt_audience=args.jwt_audience, jwt_leeway_s=args.jwt_leeway)
    try:
        auth = Authenticator(settings)
    except SecretError as exc:
        die(prog, str(exc), code=2)
    if not auth.enabled and not is_loopback(args.host):
        die(prog, f"refusing to listen on {args.host} without credentials: anyone who can reach it could "
                  f"drive it. Give --cluster-token-file (and --token-file for clients), or listen on 127.0.0.1",
            code=2)
    tls = tls_from_args(prog, args)
    if not tls.enabled and not is_loopback(args.host) and not args.insecure_plaintext:
        die(prog, f"refusing to listen on {args.host} in plain HTTP: credentials would cross the network "
                  f"readable. Give --tls-cert and --tls-key, or --insecure-plaintext on a network you trust, "
                  f"or listen on 127.0.0.1", code=2)
    if args.max_body_bytes < 1024:
        die(prog, "--max-body-bytes must be at least 1024", code=2)
    try:
        audit = AuditLog(args.audit_log, prog, sink=args.audit_syslog, max_bytes=args.audit_max_bytes)
    except OSError as exc:
        die(prog, f"cannot open the audit log {args.audit_log}: {exc.strerror}", code=2)
    limits = ConnectionLimits(args.max_connections, args.header_timeout, args.body_timeout)
    return Security(auth, audit, args.max_body_bytes, limits,
                    AuthFailureThrottle(args.auth_failure_limit, args.auth_failure_window), tls=tls,
                    insecure_plaintext=args.insecure_plaintext)
