"""A daemon's TLS files checked at start: exit 2 and one line naming the file, never the key."""

from __future__ import annotations

import argparse
import ssl
from pathlib import Path

import pytest

from rbee.common.tls import Tls, tls_from_args, unverified
from rbee_bdd.clients.pki import ScenarioCa


def args(cert: Path | None = None, key: Path | None = None, ca: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(tls_cert=cert, tls_key=key, tls_ca=ca, insecure_plaintext=False)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    ca = ScenarioCa()
    issued, other = ca.issue("queen", ["127.0.0.1"]), ca.issue("queen", ["127.0.0.1"])
    made = {"cert": issued.cert, "key": issued.key, "other_key": other.key, "ca": ca.pem, "junk": b"not PEM\n"}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in made}


def refusal(capsys: pytest.CaptureFixture[str], given: argparse.Namespace) -> str:
    with pytest.raises(SystemExit) as ended:
        tls_from_args("queen-rbee", given)
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "PRIVATE KEY" not in err and "Traceback" not in err
    return err


def test_a_certificate_and_its_key_serve_https(files: dict[str, Path]) -> None:
    tls = tls_from_args("queen-rbee", args(files["cert"], files["key"], files["ca"]))
    assert tls.enabled and tls.scheme == "https"
    assert tls.flags() == ["--tls-cert", str(files["cert"]), "--tls-key", str(files["key"]),
                           "--tls-ca", str(files["ca"])]
    assert not Tls().enabled and Tls().scheme == "http" and Tls().flags() == []


def test_without_a_ca_clients_verify_against_the_systems_cas_through_one_shared_context() -> None:
    context = Tls().verify()
    assert isinstance(context, ssl.SSLContext) and context is Tls().verify()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_missing_key_is_named(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    gone = files["key"].with_name("gone")
    err = refusal(capsys, args(files["cert"], gone))
    assert f"cannot read the TLS key {gone}: No such file or directory" in err


def test_a_key_of_another_certificate_is_named(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    err = refusal(capsys, args(files["cert"], files["other_key"]))
    assert f"the TLS key {files['other_key']} does not match the certificate {files['cert']}" in err


def test_a_ca_bundle_that_is_not_pem_is_named(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    err = refusal(capsys, args(ca=files["junk"]))
    assert f"cannot use the TLS CA bundle {files['junk']}: not a PEM CA bundle" in err


def test_a_certificate_that_is_not_pem_is_named(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    err = refusal(capsys, args(files["junk"], files["key"]))
    assert str(files["junk"]) in err and "not usable PEM" in err


def test_a_certificate_without_its_key_or_a_key_without_its_certificate(
        files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert "go together" in refusal(capsys, args(cert=files["cert"]))
    assert "go together" in refusal(capsys, args(key=files["key"]))


def test_why_a_peer_did_not_verify_is_read_from_the_error() -> None:
    error = Exception("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired "
                      "(_ssl.c:1006)")
    assert unverified(error) == "certificate has expired"
    assert unverified(Exception("[Errno 111] Connection refused")) == ""
