"""A daemon's transport: HTTPS with its certificate and key, and the CA its own calls verify peers with.

``--tls-cert`` and ``--tls-key`` make the daemon serve HTTPS; ``--tls-ca`` is the CA bundle its own
clients (queen to hives and workers, a hive to queen and to its workers) verify the peer against
(without it, the system's). Listening on a non-loopback address in plaintext needs
``--insecure-plaintext``: the cluster credential would cross the network readable by anyone on it.
Every problem with a file ends the daemon at start with exit code 2 and one line naming the file.
"""

from __future__ import annotations

import argparse
import functools
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rbee.common.cli import die


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("transport (HTTPS)")
    group.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this PEM certificate chain")
    group.add_argument("--tls-key", type=Path, metavar="FILE", help="the PEM private key of --tls-cert")
    group.add_argument("--tls-ca", type=Path, metavar="FILE",
                       help="PEM CA bundle this daemon's own calls verify other daemons against (default: the "
                            "system's)")
    group.add_argument("--insecure-plaintext", action="store_true",
                       help="allow plain HTTP on a non-loopback address (credentials readable on the network)")


@dataclass(frozen=True)
class Tls:
    """The daemon's certificate and key (both or neither) and the CA bundle of its clients."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.cert is not None

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"

    def server_options(self) -> dict[str, Any]:
        """uvicorn.Config's keywords for serving HTTPS (none for plain HTTP)."""
        if not self.enabled:
            return {}
        return {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}

    def verify(self) -> ssl.SSLContext:
        """What the daemon's httpx clients verify peers with: the CA bundle's context, or the system's; one
        context a process, shared by its clients (each of its own costs about 50 ms of CPU: the CAs it loads)."""
        return _client_context(self.ca)

    def flags(self) -> list[str]:
        """The same transport for a process the daemon starts (a hive's workers share its certificate)."""
        if not self.enabled:
            return []
        return ["--tls-cert", str(self.cert), "--tls-key", str(self.key),
                *(["--tls-ca", str(self.ca)] if self.ca is not None else [])]


@functools.cache
def _client_context(ca: Path | None) -> ssl.SSLContext:
    """The context of the daemon's clients for *ca* (None: the system's CAs), made once a process."""
    return ssl.create_default_context(cafile=None if ca is None else str(ca))


def unverified(exc: BaseException) -> str:
    """Why a peer's certificate did not verify, from a failed call's exception ("" for other failures):
    "certificate has expired", "unable to get local issuer certificate", "Hostname mismatch, …"."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" not in text:
        return ""
    reason = text.split("certificate verify failed:", 1)[-1]
    return reason.split("(_ssl.c", 1)[0].strip() or "certificate verify failed"


def _problem(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
        return exc.strerror or type(exc).__name__
    reason = getattr(exc, "reason", None) or str(exc)
    return str(reason).lower().replace("_", " ")


def tls_from_args(prog: str, args: argparse.Namespace) -> Tls:
    """The transport the flags ask for, every file checked; exit 2 with one line on a bad one."""
    cert, key, ca = args.tls_cert, args.tls_key, args.tls_ca
    if (cert is None) != (key is None):
        die(prog, "--tls-cert and --tls-key go together: give both, or neither for plain HTTP", code=2)
    if cert is not None:
        for path, what in ((cert, "certificate"), (key, "key")):
            try:
                path.read_bytes()
            except OSError as exc:
                die(prog, f"cannot read the TLS {what} {path}: {_problem(exc)}", code=2)
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
        except ssl.SSLError as exc:
            if "mismatch" in _problem(exc):
                die(prog, f"the TLS key {key} does not match the certificate {cert}", code=2)
            die(prog, f"the TLS certificate {cert} or key {key} is not usable PEM: {_problem(exc)}", code=2)
    if ca is not None:
        try:
            ssl.create_default_context(cafile=str(ca))
        except OSError as exc:  # ssl.SSLError is an OSError
            problem = "not a PEM CA bundle" if isinstance(exc, ssl.SSLError) else _problem(exc)
            die(prog, f"cannot use the TLS CA bundle {ca}: {problem}", code=2)
    return Tls(cert, key, ca)
