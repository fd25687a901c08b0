"""Probing a stack's security from outside: bad credentials, leaked secrets, safe error bodies."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator

from rbee_bdd.clients.credentials import ScenarioCredentials, jwt_with_header, new_token, rs256_public_pem

# Text an attacker put in a token's header; a log that holds it let the attacker write there.
FORGED_LOG_TEXT = "bdd-forged-log-line"

# What a client may present instead of a valid credential, by the words the features use.
BAD_CREDENTIALS: dict[str, Callable[[ScenarioCredentials], str]] = {
    "no token": lambda c: "",
    "a Basic header": lambda c: "Basic " + base64.b64encode(b"bdd-user:" + new_token().encode()).decode(),
    "an unknown token": lambda c: f"Bearer {new_token()}",
    "an expired JWT": lambda c: f"Bearer {c.jwt('submit', expires_in=-3600)}",
    "a JWT not valid yet": lambda c: f"Bearer {c.jwt('submit', not_before_in=3600)}",
    "a JWT for another audience": lambda c: f"Bearer {c.jwt('submit', audience='another-service')}",
    "a JWT from another issuer": lambda c: f"Bearer {c.jwt('submit', issuer='another-issuer')}",
    "a JWT signed with another key": lambda c: f"Bearer {c.jwt('submit', wrong_key=True)}",
    "an RS256 JWT signed with another key": lambda c: f"Bearer {c.jwt('submit', 'RS256', wrong_key=True)}",
    # validly signed, with headers the JWT library refuses
    "a JWT with a critical header extension": lambda c: f"Bearer {jwt_with_header(c, {'crit': ['x']})}",
    "a JWT whose critical header forges a log line":
        lambda c: f"Bearer {jwt_with_header(c, {'crit': [f'x{chr(10)}ERROR {FORGED_LOG_TEXT}']})}",
    "a JWT whose key id is a number": lambda c: f"Bearer {jwt_with_header(c, {'kid': 123})}",
    # attacks that held: kept so that they go on holding
    "an unsigned JWT (alg none)": lambda c: f"Bearer {jwt_with_header(c, {'alg': 'none'})}",
    "an HS256 JWT signed with queen's RS256 public key":
        lambda c: f"Bearer {jwt_with_header(c, {}, key=rs256_public_pem())}",
    "a JWT whose jku names a key set of the attacker's, signed with its key":
        lambda c: f"Bearer {jwt_with_header(c, {'jku': 'http://127.0.0.1:9/jwks.json', 'kid': 'a'}, key=b'k' * 32)}",
    "a token of 8 KiB": lambda c: f"Bearer {new_token() * 190}",
    "the submit token cut at its #": lambda c: f"Bearer {c.token('submit').partition('#')[0]}",
    "a JWT with an empty subject": lambda c: f"Bearer {c.jwt('submit', subject='')}",
    "a JWT whose subject is 65 characters long": lambda c: f"Bearer {c.jwt('submit', subject='s' * 65)}",
    "a JWT whose subject has a space": lambda c: f"Bearer {c.jwt('submit', subject='bdd user')}",
    "a JWT whose exp is a numeric string": lambda c: f"Bearer {c.jwt('submit', exp=str(int(time.time()) + 300))}",
    "a JWT whose iat is a numeric string": lambda c: f"Bearer {c.jwt('submit', iat=str(int(time.time())))}",
}

# Valid credentials, by the words the features use.
GOOD_CREDENTIALS: dict[str, Callable[[ScenarioCredentials], str]] = {
    "the read token": lambda c: f"Bearer {c.token('read')}",
    "the submit token": lambda c: f"Bearer {c.token('submit')}",
    "the admin token": lambda c: f"Bearer {c.token('admin')}",
    "an HS256 JWT with scope submit": lambda c: f"Bearer {c.jwt('submit')}",
    "an RS256 JWT with scope submit": lambda c: f"Bearer {c.jwt('submit', 'RS256')}",
    "an HS256 JWT with scope read": lambda c: f"Bearer {c.jwt('read')}",
    "the cluster token": lambda c: f"Bearer {c.cluster_token}",
    "a JWT whose subject is 64 characters long": lambda c: f"Bearer {c.jwt('submit', subject='s' * 64)}",
    'a JWT with scope submit whose subject is "bdd-admin"': lambda c: f"Bearer {c.jwt('submit', subject='bdd-admin')}",
    'a JWT with scope submit whose subject is "cluster"': lambda c: f"Bearer {c.jwt('submit', subject='cluster')}",
}


def authorization(words: str, credentials: ScenarioCredentials) -> str:
    """The ``Authorization`` value the words stand for ("" for none)."""
    made = BAD_CREDENTIALS.get(words) or GOOD_CREDENTIALS.get(words)
    if made is None:
        raise KeyError(f"no credential is called {words!r}; known: {', '.join([*BAD_CREDENTIALS, *GOOD_CREDENTIALS])}")
    return made(credentials)


def secret_part(authorization_value: str) -> str:
    """The secret in an Authorization value (what follows the scheme)."""
    return authorization_value.partition(" ")[2]


def places_holding(secrets: list[str], places: dict[str, str]) -> list[str]:
    """Where any of *secrets* appears: "secret #i in <place>" (never the secret itself)."""
    return [f"secret #{index} in {place}" for place, text in places.items()
            for index, secret in enumerate(secrets, 1) if secret and secret in text]


# What an error body must never carry.
UNSAFE = {
    "a traceback": re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"),
    "a filesystem path": re.compile(r"(?<![\w.])/(?:opt|tmp|home|root|usr|var|etc|proc|sys|models|work)/"),
    "an IP address": re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
    "a URL": re.compile(r"\bhttps?://", re.IGNORECASE),
}


# What a worker may find in its environment (docs/contract.md, sec.worker-env): the standard names,
# the job's own, and what the harness names with --worker-env.
WORKER_ENV_STANDARD = frozenset({
    "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME",
    "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "RBEE_LOG_LEVEL", "COVERAGE_PROCESS_START",
    "COVERAGE_FILE", "JOB_ID", "CORRELATION_ID", "WORKER_ID", "CUDA_VISIBLE_DEVICES",
})


def unpassed_variables(env: dict[str, str], named: tuple[str, ...]) -> list[str]:
    """The names in a worker's *env* that neither the contract nor ``--worker-env`` (*named*) passes."""
    return sorted(name for name in env
                  if name not in WORKER_ENV_STANDARD and name not in named and not name.startswith("LC_"))


def unsafe_content(body: str) -> list[str]:
    """What *body* carries that an error body must not."""
    return [what for what, pattern in UNSAFE.items() if pattern.search(body)]


def value_of(words: str) -> object:
    """A field value as the features write it: a JSON literal, or ``N letters``."""
    count, _, unit = words.partition(" ")
    if unit == "letters" and count.isdigit():
        return "a" * int(count)
    return json.loads(words)


def request_body(kind: str) -> tuple[bytes | Iterator[bytes], dict[str, str]]:
    """A body of the kind the features name, and its headers."""
    big = json.dumps({"operation": "infer", "model": "tinyllama", "prompt": "a" * (2 * 1024 * 1024)}).encode()
    bodies: dict[str, tuple[bytes | Iterator[bytes], dict[str, str]]] = {
        "not JSON": (b"model=tinyllama&prompt=hello", {"Content-Type": "application/x-www-form-urlencoded"}),
        "malformed JSON": (b'{"operation": "infer", "model": ', {"Content-Type": "application/json"}),
        "JSON nested 100000 deep": (b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"}),
        "JSON with invalid UTF-8": (b'{"operation": "infer", "model": "tiny\xff\xfellama", "prompt": "hi"}',
                                    {"Content-Type": "application/json"}),
        "JSON with a 5000-digit number": (b'{"operation": "infer", "model": "tinyllama", "prompt": "hi", '
                                          b'"max_tokens": ' + b"9" * 5000 + b"}", {"Content-Type": "application/json"}),
        "2 MiB of JSON": (big, {"Content-Type": "application/json"}),
        # without a declared length: only counting the bytes as they come can stop it
        "2 MiB of JSON, chunked": (iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                                   {"Content-Type": "application/json"}),
    }
    return bodies[kind]


def record_hash(record: dict[str, object]) -> str:
    """An audit record's hash as the contract defines it: SHA-256 of its canonical JSON without ``hash``."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def tamper(trail: bytes, change: str, number: int) -> bytes:
    """*trail* (JSON lines) with record *number* (1-based) changed as an intruder would."""
    lines = trail.decode().splitlines()
    index = number - 1
    assert len(lines) > number, f"the audit trail has {len(lines)} records; tampering needs more than {number}"
    record = json.loads(lines[index])
    if change == "change the principal of":
        record["principal"] = "someone-else"  # its stored hash kept: the content no longer matches it
        lines[index] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    elif change == "remove":
        del lines[index]
    elif change == "repeat a key of":  # two "outcome"s: parsers disagree on which one counts
        lines[index] = lines[index].replace('"outcome":', '"outcome":"ok","outcome":', 1)
    elif change == "escape a letter of":  # the same record to a parser, other bytes on disk
        escaped = lines[index].replace('"actor":"q', '"actor":"\\u0071', 1)  # queen-rbee's q, as \u0071
        assert escaped != lines[index], f"record {number} has no actor starting with q to escape"
        lines[index] = escaped
    elif change == "insert a well-formed forged record before":
        forged = dict(record, action="job.cancel", principal="forger", prev=json.loads(lines[index - 1])["hash"])
        forged["hash"] = record_hash(forged)  # consistent itself: only the next record's link gives it away
        lines.insert(index, json.dumps(forged, sort_keys=True, separators=(",", ":")))
    else:
        raise KeyError(f"no tampering called {change!r}")
    return ("\n".join(lines) + "\n").encode()


def rechained(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """*records* with every link and hash made consistent again, as an intruder who knows the format would."""
    prev = "0" * 64
    for record in records:
        record["prev"] = prev
        record["hash"] = prev = record_hash(record)
    return records


def tamper_trail(trail: bytes, change: str) -> bytes:
    """*trail* changed as a whole by an intruder who rewrites hashes: what only the anchor can show."""
    records = [json.loads(line) for line in trail.decode().splitlines() if line.strip()]
    assert len(records) >= 3, f"tampering needs 3 records or more, the trail has {len(records)}"
    if change == "cut its last record":
        records = records[:-1]
    elif change == "cut its last half":
        records = records[: len(records) // 2]
    elif change == "empty it":
        records = []
    elif change == "append a forged record with its hash recomputed":
        records = rechained([*records, dict(records[-1], action="job.cancel", principal="forger")])
    elif change == "edit record 2 and re-chain the rest":
        records[1]["principal"] = "someone-else"
        records = rechained(records)
    else:
        raise KeyError(f"no tampering of a whole trail called {change!r}")
    return "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records).encode()
