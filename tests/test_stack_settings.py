"""A stack's settings from a scenario's table: every row means one thing, or is refused naming why."""

import pytest

from rbee_bdd.runner.stack_settings import SettingError, settings_of


def test_daemon_flags_take_their_values_in_the_daemons_own_forms() -> None:
    settings = settings_of([("queen --stall-timeout", "3 seconds"), ("queen --no-cascade-shutdown", "on"),
                            ("hive --worker-memory-limit", "96 MiB"), ("hive --worker-args", "--no-mmap"),
                            ("hive --worker-health-interval", "0.5 seconds"), ("hive --device", "gpu")])
    assert settings.queen_args == ["--stall-timeout=3", "--no-cascade-shutdown"]
    assert settings.hive_args == ["--worker-memory-limit=96M", "--worker-args=--no-mmap",
                                  "--worker-health-interval=0.5", "--device=gpu"]


def test_the_other_settings_reach_the_stack() -> None:
    settings = settings_of([("workers", "hang before they are ready"), ("hive config file", "max-workers = 1"),
                            ("hive download disk", "256 KiB"), ("hive cgroups", "none"),
                            ("hive credentials", "in its environment"), ("credentials", "none"),
                            ("credential files", "readable by others"), ("HS256 JWT key", "31 bytes")])
    options = settings.start_options()
    assert options["worker_wrapper"] == "hanging-worker" and options["hive_config"] == "max-workers = 1\n"
    assert options["download_disk_bytes"] == 256 * 1024 and options["cgroups"] is False
    assert options["hive_credentials_in_env"] is True and options["credentials"] is False
    assert options["credential_mode"] == 0o644 and options["hs256_key_bytes"] == 31
    assert settings_of([]).start_options() == {
        "queen_args": (), "hive_args": (), "worker_wrapper": "", "hive_config": "", "download_disk_bytes": 0,
        "cgroups": True, "queen_audit_disk_bytes": 0, "hive_credentials_in_env": False, "credentials": True,
        "credential_mode": 0o600,
        "hs256_key_bytes": 0, "tls": None, "faulty_certs": {}, "allow_plaintext": True, "relay": False,
        "per_hive_credentials": False}


def test_transport_certificates_relay_and_hive_credentials_reach_the_stack() -> None:
    options = settings_of([("transport", "TLS"), ("hive-1 certificate", "expired"),
                           ("hives reach queen", "through a relay of the harness"),
                           ("hive credentials", "one per hive")]).start_options()
    assert (options["tls"], options["faulty_certs"], options["relay"]) == (True, {"hive-1": "expired"}, True)
    assert options["per_hive_credentials"] is True and options["hive_credentials_in_env"] is False
    plain = settings_of([("transport", "plain HTTP without --insecure-plaintext")]).start_options()
    assert (plain["tls"], plain["allow_plaintext"]) == (False, False)
    assert settings_of([("queen certificate", "with its key missing")]).start_options()["tls"] is True


@pytest.mark.parametrize(("row", "says"), [
    (("queen stall timeout", "3"), "unknown stack setting 'queen stall timeout'"),
    (("worker --max-workers", "3"), "unknown stack setting 'worker --max-workers'"),
    (("workers", "sing"), "'workers' is one of"),
    (("hive download disk", "256 kB"), "a size is '<n> KiB' or '<n> MiB'"),
    (("hive cgroups", "some"), "'hive cgroups' is one of 'none'"),
    (("HS256 JWT key", "31"), "'HS256 JWT key' is '<n> bytes'"),
    (("transport", "SSL"), "'transport' is one of 'TLS'"),
    (("queen certificate", "stolen"), "'queen certificate' is one of 'for another name'"),
])
def test_a_row_that_means_nothing_is_refused_naming_it(row: tuple[str, str], says: str) -> None:
    with pytest.raises(SettingError, match=says):
        settings_of([row])
