"""The stack's security pieces on their own: credentials, the guard, the audit chain, the harness's probes."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from rbee.common.audit import AuditLog, verify
from rbee.common.auth import Authenticator, AuthSettings, Denial, Principal
from rbee.common.errors import scrub
from rbee.common.guard import Guard, Route
from rbee.common.secrets import SecretError
from rbee_bdd.clients.credentials import AUDIENCE, ISSUER, ScenarioCredentials, jwt_with_header
from rbee_bdd.clients.security import record_hash, tamper, unsafe_content


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.fixture()
def creds() -> ScenarioCredentials:
    return ScenarioCredentials.generate()


@pytest.fixture()
def auth(tmp_path: Path, creds: ScenarioCredentials) -> Authenticator:
    files = creds.files()
    paths = {name: write(tmp_path / name, data.decode()) for name, data in files.items()}
    return Authenticator(AuthSettings(token_file=paths["tokens"], cluster_token_file=paths["cluster.token"],
                                      jwt_hs256_key_file=paths["jwt-hs256.key"],
                                      jwt_rs256_public_key_file=paths["jwt-rs256.pub"],
                                      jwt_issuer=ISSUER, jwt_audience=AUDIENCE))


def test_scopes_are_ordered_and_the_cluster_may_do_anything() -> None:
    assert Principal("a", "admin").may("submit") and Principal("a", "submit").may("read")
    assert not Principal("r", "read").may("submit")
    assert not Principal("a", "admin").may("cluster")
    assert Principal("cluster", "cluster").may("admin")


def test_static_tokens_and_jwts(auth: Authenticator, creds: ScenarioCredentials) -> None:
    assert auth.check(f"Bearer {creds.token('submit')}", "submit") == Principal("bdd-submit", "submit")
    assert auth.check(f"Bearer {creds.jwt('submit', 'RS256')}", "submit") == Principal("jwt:bdd-jwt-user", "submit")
    cases = {
        "": "missing", "Basic abc": "malformed", f"Bearer {'x' * 40}": "invalid",
        f"Bearer {creds.jwt('submit', expires_in=-3600)}": "expired",
        f"Bearer {creds.jwt('submit', audience='other')}": "wrong_audience",
        f"Bearer {creds.jwt('submit', issuer='other')}": "wrong_issuer",
        f"Bearer {creds.jwt('submit', wrong_key=True)}": "bad_signature",
        f"Bearer {creds.jwt('submit', not_before_in=3600)}": "not_yet_valid",
    }
    for header, reason in cases.items():
        denial = auth.check(header, "read")
        assert isinstance(denial, Denial) and (denial.status, denial.reason) == (401, reason), header[:20]
    denied = auth.check(f"Bearer {creds.token('read')}", "submit")
    assert isinstance(denied, Denial) and (denied.status, denied.reason) == (403, "scope")


def test_clock_skew_within_the_leeway_is_accepted(auth: Authenticator, creds: ScenarioCredentials) -> None:
    assert isinstance(auth.check(f"Bearer {creds.jwt('read', expires_in=-10)}", "read"), Principal)


def test_credential_files_must_be_private_and_well_formed(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="accessible by group or others"):
        Authenticator(AuthSettings(token_file=write(tmp_path / "t", "a read " + "x" * 20, 0o640)))
    with pytest.raises(SecretError, match="line 2: scope must be"):
        Authenticator(AuthSettings(token_file=write(tmp_path / "u", "a read " + "x" * 20 + "\nb root " + "y" * 20)))
    with pytest.raises(SecretError) as refused:
        Authenticator(AuthSettings(token_file=write(tmp_path / "v", "a read short")))
    assert "short" not in str(refused.value).replace("shorter", ""), "the message must not carry the token"


def test_a_bad_reload_keeps_the_credentials_in_use(tmp_path: Path) -> None:
    tokens = write(tmp_path / "tokens", "a read " + "x" * 20)
    auth = Authenticator(AuthSettings(token_file=tokens))
    os.chmod(tokens, 0o644)
    assert auth.reload() is False
    assert auth.check("Bearer " + "x" * 20, "read") == Principal("a", "read")
    write(tokens, "b submit " + "y" * 20)
    assert auth.reload() is True
    assert isinstance(auth.check("Bearer " + "x" * 20, "read"), Denial)


async def call(app: Guard, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = {"Content-Length": str(len(body)), **headers} if body else headers
    scope = {"type": "http", "method": method, "path": path, "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, receive, send)
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(payload) if payload else None


def test_the_guard_refuses_before_the_app_runs(tmp_path: Path, auth: Authenticator,
                                                creds: ScenarioCredentials) -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b'{"job_id": "j1"}'})

    audit = AuditLog(tmp_path / "audit.jsonl", "test")
    guard = Guard(app, [Route("POST", "/v1/jobs", "submit", "job.submit")], auth, audit, max_body=2048)
    json_type = {"Content-Type": "application/json"}
    submit = {"Authorization": f"Bearer {creds.token('submit')}", **json_type}
    status, body = asyncio.run(call(guard, "POST", "/v1/jobs", json_type, b"{}"))
    assert (status, body["error"]["reason"]) == (401, "missing")
    status, body = asyncio.run(call(guard, "POST", "/v1/jobs", {**submit, "Content-Type": "text/plain"}, b"x"))
    assert (status, body["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    status, body = asyncio.run(call(guard, "POST", "/v1/jobs", {**submit, "Content-Length": "5000"}, b"{}"))
    assert (status, body["error"]["code"]) == (413, "BODY_TOO_LARGE")
    assert reached == []
    status, _ = asyncio.run(call(guard, "POST", "/v1/jobs", {**submit, "X-Correlation-ID": "cid-1"}, b"{}"))
    assert (status, reached) == (201, ["/v1/jobs"])
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(r["action"], r["outcome"]) for r in records] == [("auth", "denied:missing"), ("job.submit", "ok")]
    assert records[1]["principal"] == "bdd-submit" and records[1]["target"] == "job_id=j1"
    assert records[1]["correlation_id"] == "cid-1"


def test_the_audit_chain_reports_the_first_broken_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, "test")
    for index in range(4):
        log.record("job.submit", "ok", principal=f"p{index}")
    AuditLog(path, "test").record("reload", "ok")  # a restart goes on with the chain
    assert verify(path).intact and verify(path).records == 5
    trail = path.read_bytes()
    for change, caught in [("change the principal of", 2), ("remove", 2),
                           ("insert a well-formed forged record before", 3)]:
        path.write_bytes(tamper(trail, change, 2))
        assert verify(path).broken_at == caught, change


def test_the_harness_hashes_records_as_the_contract_says(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path, "test").record("job.cancel", "ok")
    record = json.loads(path.read_text())
    assert record_hash(record) == record["hash"]


def test_error_messages_are_scrubbed_and_the_probe_sees_what_is_left() -> None:
    message = "cannot open /opt/rbee/state/catalog.sqlite from http://10.0.0.7:7835/v1 (10.0.0.7:7835)"
    assert unsafe_content(message) == ["a filesystem path", "an IP address", "a URL"]
    assert unsafe_content(scrub(message)) == []


def test_an_action_is_recorded_before_its_answer_ends(tmp_path: Path, auth: Authenticator,
                                                       creds: ScenarioCredentials) -> None:
    path = tmp_path / "audit.jsonl"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"job_id": "j2"}'})

    guard = Guard(app, [Route("DELETE", "/v1/jobs/j2", "submit", "job.cancel")], auth, AuditLog(path, "test"))
    seen_at_end: list[str] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                seen_at_end.extend(json.loads(line)["action"] for line in path.read_text().splitlines())

        scope = {"type": "http", "method": "DELETE", "path": "/v1/jobs/j2", "client": ("127.0.0.1", 1),
                 "headers": [(b"authorization", f"Bearer {creds.token('submit')}".encode())]}
        await guard(scope, receive, send)

    asyncio.run(run())
    assert seen_at_end == ["job.cancel"]


def test_jwt_headers_the_library_refuses_are_malformed_not_errors(auth: Authenticator,
                                                                  creds: ScenarioCredentials) -> None:
    for header in ({"crit": ["x"]}, {"crit": ["x\nERROR forged"]}, {"kid": 123}):
        found = auth.check(f"Bearer {jwt_with_header(creds, header)}", "submit")
        assert isinstance(found, Denial) and (found.status, found.reason) == (401, "malformed"), header
    # the same construction with a plain header is a valid token: only the header made the difference
    assert auth.check(f"Bearer {jwt_with_header(creds, {})}", "submit") == Principal("jwt:bdd-jwt-user", "submit")


def test_a_hash_inside_a_token_is_part_of_it(tmp_path: Path) -> None:
    token = "abcdefghijklmnopqrstuvwx#yz0123456789abcdef"
    text = f"# comment\nhashy submit {token}  # trailing comment\n  # indented comment\n"
    auth = Authenticator(AuthSettings(token_file=write(tmp_path / "tokens", text)))
    assert auth.check(f"Bearer {token}", "submit") == Principal("hashy", "submit")
    cut = auth.check(f"Bearer {token.partition('#')[0]}", "submit")
    assert isinstance(cut, Denial) and cut.reason == "invalid"
    # a token that starts with '#' would be a comment: the line is refused, never taken short
    with pytest.raises(SecretError, match="line 1"):
        Authenticator(AuthSettings(token_file=write(tmp_path / "t2", f"x submit #{token}\n")))


def test_jwt_principals_cannot_collide_and_their_claims_must_be_well_typed(auth: Authenticator,
                                                                           creds: ScenarioCredentials) -> None:
    cluster_named = creds.jwt("submit", subject="cluster")
    assert auth.check(f"Bearer {cluster_named}", "submit") == Principal("jwt:cluster", "submit")
    assert auth.check(f"Bearer {creds.jwt('submit', subject='s' * 64)}", "submit") == Principal("jwt:" + "s" * 64,
                                                                                                "submit")
    for claims in ({"subject": ""}, {"subject": "s" * 65}, {"subject": "a b"}, {"subject": "a\nb"},
                   {"sub": 7}, {"exp": "1999999999"}, {"iat": "1"}, {"nbf": True}):
        found = auth.check(f"Bearer {creds.jwt('submit', **claims)}", "submit")
        assert isinstance(found, Denial) and (found.status, found.reason) == (401, "malformed"), claims


@pytest.mark.parametrize("length, refused", [(31, True), (32, False)])
def test_an_hs256_key_needs_32_bytes(tmp_path: Path, length: int, refused: bool) -> None:
    settings = AuthSettings(jwt_hs256_key_file=write(tmp_path / "k", "k" * length), jwt_issuer=ISSUER,
                            jwt_audience=AUDIENCE)
    if refused:
        with pytest.raises(SecretError, match=f"at least 32 bytes, it has {length}"):
            Authenticator(settings)
    else:
        assert Authenticator(settings).enabled


def test_the_audit_trail_clips_long_targets_at_the_bound(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", "queen-rbee")
    for length in (256, 257, 15000):
        log.record("auth", "denied:missing", target="t" * length)
    targets = [json.loads(line)["target"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert targets[0] == "t" * 256
    assert targets[1] == "t" * 256 + "…(+1 characters)"
    assert targets[2] == "t" * 256 + "…(+14744 characters)"
    assert verify(tmp_path / "audit.jsonl").intact


@pytest.mark.parametrize("flag", ["token_file", "cluster_token_file", "jwt_hs256_key_file"])
@pytest.mark.parametrize("content, found", [(None, "No such file"), ("", "is empty"), ("  \n\t\n", "is empty"),
                                            ("unreadable", "Permission denied")])
def test_every_credential_file_fails_closed(tmp_path: Path, flag: str, content: str | None, found: str) -> None:
    path = tmp_path / "credential"
    if content == "unreadable":
        write(path, "x" * 40, 0o000)
        if os.access(path, os.R_OK):  # root reads any file: make it a folder, which no one reads as text
            path.unlink()
            path.mkdir(mode=0o700)
            found = "Is a directory"
    elif content is not None:
        write(path, content)
    extra = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE} if flag.startswith("jwt") else {}
    with pytest.raises(SecretError, match=found) as refused:
        Authenticator(AuthSettings(**{flag: path}, **extra))  # type: ignore[arg-type]
    assert str(path) in str(refused.value)
