"""Who may call a daemon: client tokens (static or JWT) with a scope, and the cluster credential.

Client scopes are ordered: ``read`` (GETs and streams) < ``submit`` (jobs) < ``admin`` (spawn,
kill, shutdown, provision). The cluster credential is what daemons use with each other (queen
driving hives and workers, hives their workers); client tokens never carry it. With queen's
``--hive-token-file`` each hive has a credential of its own (scope ``hive``), bound to its id: only
it may post that hive's heartbeats and narration, and the cluster credential (which workers hold)
no longer may.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rbee.common.secrets import SecretError, read_secret_file, secret_from

log = logging.getLogger("rbee.auth")

SCOPES = ("read", "submit", "admin")
CLUSTER = "cluster"  # the access daemons need from each other
HIVE = "hive"  # a hive's own credential: its heartbeats and narration, nothing else
OPEN = "open"  # no credential needed (GET /health)
CLUSTER_TOKEN_ENV = "RBEE_CLUSTER_TOKEN"
MIN_TOKEN_LENGTH = 16
MIN_HS256_KEY_BYTES = 32  # RFC 7518 3.2: a key at least as long as the hash
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
COMMENT = re.compile(r"(?:^|\s)#")


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a client token's name and scope, or the cluster."""

    name: str
    scope: str  # one of SCOPES, or CLUSTER

    def may(self, need: str) -> bool:
        if need == OPEN or self.scope == CLUSTER:  # daemons may do anything to each other
            return True
        if self.scope == HIVE or need in (CLUSTER, HIVE):
            return self.scope == need
        return SCOPES.index(self.scope) >= SCOPES.index(need)

    @property
    def hive_id(self) -> str:
        """The hive a ``hive`` credential belongs to ("" for any other)."""
        return self.name.removeprefix("hive:") if self.scope == HIVE else ""


@dataclass(frozen=True)
class Denial:
    """Why a request is refused: 401 (``reason``: missing, malformed, invalid, expired, bad_signature,
    wrong_audience, wrong_issuer, not_yet_valid) or 403 (``reason``: scope)."""

    status: int
    reason: str
    message: str


@dataclass(frozen=True)
class AuthSettings:
    """Where a daemon's credentials come from (files, or RBEE_CLUSTER_TOKEN for the cluster's)."""

    token_file: Path | None = None
    cluster_token_file: Path | None = None
    hive_token_file: Path | None = None  # queen: each hive's own credential, ``HIVE_ID TOKEN`` per line
    queen_token_file: Path | None = None  # a hive: the credential it presents to queen (its line's token)
    jwt_hs256_key_file: Path | None = None
    jwt_rs256_public_key_file: Path | None = None
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_leeway_s: float = 30.0


@dataclass(frozen=True)
class Credentials:
    """One loaded set of credentials; a reload builds a new one and swaps it in whole."""

    tokens: tuple[tuple[bytes, Principal], ...] = ()
    cluster_token: str = ""
    jwt_keys: tuple[tuple[str, Any], ...] = ()  # (algorithm, key)
    hive_tokens: tuple[tuple[bytes, Principal], ...] = ()
    queen_token: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.tokens or self.cluster_token or self.jwt_keys or self.hive_tokens)


def credential_lines(text: str, what: str, path: Path, fields: str) -> Iterator[tuple[str, list[str]]]:
    """Each line's words, with ``what path line N:`` to start an error; a line of other than *fields*'s
    number of words is refused naming the form. A comment starts a line or follows a space: a ``#``
    inside a token is part of it. Errors name the line, never a token."""
    for number, line in enumerate(text.splitlines(), 1):
        words = COMMENT.split(line, maxsplit=1)[0].split()
        if not words:
            continue
        where = f"{what} {path} line {number}:"
        if len(words) != len(fields.split()):
            raise SecretError(f"{where} expected {fields}")
        if len(words[-1]) < MIN_TOKEN_LENGTH:
            raise SecretError(f"{where} token shorter than {MIN_TOKEN_LENGTH} characters")
        yield where, words


def parse_token_file(text: str, path: Path) -> tuple[tuple[bytes, Principal], ...]:
    """Lines ``NAME SCOPE TOKEN`` (``#`` comments)."""
    tokens: list[tuple[bytes, Principal]] = []
    for where, (name, scope, token) in credential_lines(text, "token file", path, "NAME SCOPE TOKEN"):
        if not NAME.match(name):
            raise SecretError(f"{where} bad name (letters, digits, ._@-)")
        if scope not in SCOPES:
            raise SecretError(f"{where} scope must be one of {', '.join(SCOPES)}")
        tokens.append((token.encode(), Principal(name, scope)))
    return tuple(tokens)


def parse_hive_token_file(text: str, path: Path) -> tuple[tuple[bytes, Principal], ...]:
    """Lines ``HIVE_ID TOKEN`` (``#`` comments): each hive's own credential."""
    tokens: list[tuple[bytes, Principal]] = []
    for where, (hive_id, token) in credential_lines(text, "hive token file", path, "HIVE_ID TOKEN"):
        if not NAME.match(hive_id):
            raise SecretError(f"{where} bad hive id (letters, digits, ._@-)")
        tokens.append((token.encode(), Principal(f"hive:{hive_id}", HIVE)))
    return tuple(tokens)


def load_credentials(settings: AuthSettings) -> Credentials:
    """Read every configured credential; SecretError names the file and what is wrong."""
    tokens: tuple[tuple[bytes, Principal], ...] = ()
    if settings.token_file is not None:
        tokens = parse_token_file(read_secret_file(settings.token_file, "token file"), settings.token_file)
    cluster = secret_from(settings.cluster_token_file, CLUSTER_TOKEN_ENV, "cluster token file")
    if cluster and len(cluster) < MIN_TOKEN_LENGTH:
        raise SecretError(f"the cluster token is shorter than {MIN_TOKEN_LENGTH} characters")
    keys: list[tuple[str, Any]] = []
    if settings.jwt_hs256_key_file is not None:
        key = read_secret_file(settings.jwt_hs256_key_file, "JWT key file").encode()
        if len(key) < MIN_HS256_KEY_BYTES:  # a short key is found by trying: a forged admin JWT
            raise SecretError(f"JWT key file {settings.jwt_hs256_key_file}: an HS256 key needs at least "
                              f"{MIN_HS256_KEY_BYTES} bytes, it has {len(key)}")
        keys.append(("HS256", key))
    if (public := settings.jwt_rs256_public_key_file) is not None:
        try:
            keys.append(("RS256", _rsa_public_key(public.read_bytes())))
        except OSError as exc:
            raise SecretError(f"cannot read JWT public key {public}: {exc.strerror}") from None
        except (ValueError, TypeError):
            raise SecretError(f"{public} is not an RSA public key in PEM form") from None
    if keys and not (settings.jwt_issuer and settings.jwt_audience):
        raise SecretError("JWT keys need --jwt-issuer and --jwt-audience (both are checked in every token)")
    hive_tokens: tuple[tuple[bytes, Principal], ...] = ()
    if settings.hive_token_file is not None:
        hive_tokens = parse_hive_token_file(read_secret_file(settings.hive_token_file, "hive token file"),
                                            settings.hive_token_file)
    queen_token = read_secret_file(settings.queen_token_file, "queen token file") \
        if settings.queen_token_file is not None else ""
    if settings.queen_token_file is not None and len(queen_token) < MIN_TOKEN_LENGTH:
        raise SecretError(f"the queen token in {settings.queen_token_file} is shorter than {MIN_TOKEN_LENGTH} "
                          "characters")
    return Credentials(tokens, cluster, tuple(keys), hive_tokens, queen_token)


def _rsa_public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem)


SUBJECT = re.compile(r"^[\x21-\x7e]{1,64}$")  # visible ASCII: no space, control character or newline
TIME_CLAIMS = ("exp", "nbf", "iat")


def claims_problem(claims: dict[str, Any]) -> str:
    """What makes verified *claims* unusable here ("" when nothing): a subject that is not a short
    visible string, a time claim that is not a number (PyJWT takes ``"exp": "999…"``)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SUBJECT.match(subject):
        return "sub must be 1 to 64 visible ASCII characters"
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{name} must be a number"
    return ""


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


class Authenticator:
    """Checks a request's ``Authorization`` header against the current credentials."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.credentials = load_credentials(settings)

    @property
    def enabled(self) -> bool:
        return self.credentials.configured

    def reload(self) -> bool:
        """Read the files again (SIGHUP); on an error keep the credentials in use and log one line."""
        try:
            fresh = load_credentials(self.settings)
        except SecretError as exc:
            log.error("credentials not reloaded, the previous ones stay in use: %s", exc)
            return False
        self.credentials = fresh
        log.warning("credentials reloaded: %d client token(s), cluster token %s, %d JWT key(s), %d hive credential(s)",
                    len(fresh.tokens), "set" if fresh.cluster_token else "unset", len(fresh.jwt_keys),
                    len(fresh.hive_tokens))
        return True

    def check(self, authorization: str, need: str) -> Principal | Denial:
        """The principal allowed to do what needs *need*, or why not."""
        if need == OPEN or not self.enabled:
            return Principal("anonymous", "admin" if not self.enabled else "read")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if not authorization.strip():
            return Denial(401, "missing", "a bearer token is required (Authorization: Bearer TOKEN)")
        if scheme.lower() != "bearer" or not token or " " in token:
            return Denial(401, "malformed", "the Authorization header must be 'Bearer TOKEN'")
        found = self._identify(token)
        if isinstance(found, Denial):
            return found
        if need == HIVE and found.scope == CLUSTER and self.credentials.hive_tokens:
            return Denial(403, "scope", "heartbeats and narration need the hive's own credential (queen's "
                                        "--hive-token-file): the cluster credential may not post them")
        if not found.may(need):
            what = {CLUSTER: "the cluster credential", HIVE: "a hive's own credential"}.get(need, f"scope {need}")
            return Denial(403, "scope", f"{found.name} (scope {found.scope}) may not do this: it needs {what}")
        return found

    def _identify(self, token: str) -> Principal | Denial:
        credentials = self.credentials
        given = token.encode()
        match: Principal | None = None
        # compare with every token, in constant time each, so timing tells nothing about which matched
        for known, principal in (*credentials.tokens, *credentials.hive_tokens):
            if hmac.compare_digest(given, known):
                match = principal
        if credentials.cluster_token and hmac.compare_digest(given, credentials.cluster_token.encode()):
            match = Principal("cluster", CLUSTER)
        if match is not None:
            return match
        if credentials.jwt_keys and looks_like_jwt(token):
            return self._verify_jwt(token)
        return Denial(401, "invalid", "the bearer token is not valid here")

    def _verify_jwt(self, token: str) -> Principal | Denial:
        import jwt  # here, not at start-up: PyJWT loads cryptography (about 0.1 CPU-s of every daemon's start)

        settings = self.settings
        try:  # any header PyJWT refuses (a critical extension, a non-string kid, …) is a malformed token
            header = jwt.get_unverified_header(token)
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            log.warning("refused a bearer token: its JWT header cannot be used (%s)", type(exc).__name__)
            return Denial(401, "malformed", "the bearer token is not a well-formed JWT")
        alg = header.get("alg")
        keys = [key for algorithm, key in self.credentials.jwt_keys if algorithm == alg]
        if not keys:
            return Denial(401, "bad_signature", "the JWT's algorithm is not accepted here")
        try:
            claims = jwt.decode(token, keys[0], algorithms=[str(alg)], audience=settings.jwt_audience,
                                issuer=settings.jwt_issuer, leeway=settings.jwt_leeway_s,
                                options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            return Denial(401, "expired", "the JWT has expired")
        except jwt.ImmatureSignatureError:
            return Denial(401, "not_yet_valid", "the JWT is not valid yet (nbf/iat in the future)")
        except jwt.InvalidAudienceError:
            return Denial(401, "wrong_audience", "the JWT is meant for another audience")
        except jwt.InvalidIssuerError:
            return Denial(401, "wrong_issuer", "the JWT comes from an issuer not trusted here")
        except jwt.InvalidSignatureError:
            return Denial(401, "bad_signature", "the JWT's signature does not verify")
        except jwt.MissingRequiredClaimError as exc:
            return Denial(401, "malformed", f"the JWT lacks the claim {exc.claim!r}")
        except (jwt.InvalidTokenError, ValueError, TypeError):  # never a traceback with the caller's text in it
            return Denial(401, "malformed", "the bearer token is not a valid JWT")
        if problem := claims_problem(claims):
            return Denial(401, "malformed", f"the JWT's {problem}")
        principal = f"jwt:{claims['sub']}"  # never a static token's name, nor the cluster's
        granted = [s for s in str(claims.get("scope", "")).split() if s in SCOPES]
        if not granted:
            return Denial(403, "scope", f"the JWT of {principal!r} grants no rbee scope")
        return Principal(principal, max(granted, key=SCOPES.index))
