"""A credential per hive: parsed from queen's --hive-token-file, good for its own heartbeats only."""

from __future__ import annotations

from pathlib import Path

import pytest

from rbee.common.auth import CLUSTER, HIVE, Authenticator, AuthSettings, Denial, Principal, parse_hive_token_file
from rbee.common.secrets import SecretError

TOKEN_1, TOKEN_2, CLUSTER_TOKEN = "h1-" + "a" * 20, "h2-" + "b" * 20, "c" * 24


def test_each_line_names_a_hive_and_its_own_credential() -> None:
    parsed = parse_hive_token_file(f"# comment\nhive-1 {TOKEN_1}\nhive-2 {TOKEN_2}  # the second\n", Path("f"))
    assert [(token.decode(), p.name, p.scope, p.hive_id) for token, p in parsed] == [
        (TOKEN_1, "hive:hive-1", HIVE, "hive-1"), (TOKEN_2, "hive:hive-2", HIVE, "hive-2")]


@pytest.mark.parametrize(("line", "says"), [
    ("hive-1", "expected HIVE_ID TOKEN"), (f"hive-1 {TOKEN_1} extra", "expected HIVE_ID TOKEN"),
    ("hive-1 short", "token shorter than 16"), (f"hive/1 {TOKEN_1}", "bad hive id")])
def test_a_bad_line_is_named_and_its_token_never(line: str, says: str) -> None:
    with pytest.raises(SecretError) as refused:
        parse_hive_token_file(f"{line}\n", Path("hives"))
    assert f"hive token file hives line 1: {says}" in str(refused.value) and TOKEN_1 not in str(refused.value)


def test_a_hive_credential_does_nothing_but_a_hive_s_own_posts() -> None:
    hive = Principal("hive:hive-1", HIVE)
    assert hive.may(HIVE) and hive.may("open")
    assert not any(hive.may(need) for need in ("read", "submit", "admin", CLUSTER))
    assert Principal("bdd-admin", "admin").may(HIVE) is False and Principal("cluster", CLUSTER).may(HIVE)


def test_with_hive_credentials_the_cluster_credential_may_not_post_heartbeats(tmp_path: Path) -> None:
    hives, cluster = tmp_path / "hives", tmp_path / "cluster"
    hives.write_text(f"hive-1 {TOKEN_1}\n")
    cluster.write_text(CLUSTER_TOKEN + "\n")
    for path in (hives, cluster):
        path.chmod(0o600)
    auth = Authenticator(AuthSettings(cluster_token_file=cluster, hive_token_file=hives))
    refused = auth.check(f"Bearer {CLUSTER_TOKEN}", HIVE)
    assert isinstance(refused, Denial) and (refused.status, refused.reason) == (403, "scope")
    assert auth.check(f"Bearer {TOKEN_1}", HIVE) == Principal("hive:hive-1", HIVE)
    assert auth.check(f"Bearer {CLUSTER_TOKEN}", CLUSTER) == Principal("cluster", CLUSTER)
    hives.write_text("# hive-1 revoked\n")
    assert auth.reload() and isinstance(auth.check(f"Bearer {TOKEN_1}", HIVE), Denial)
