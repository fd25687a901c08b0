import ipaddress
import os
import socket
from pathlib import Path

import pytest

from rbee_bdd.core.identity import RunIdentity, owner_alive, slug
from rbee_bdd.core.waiting import EventuallyTimeout, eventually, scaled, set_timeout_multiplier
from rbee_bdd.host.netutil import own_loopback_address
from rbee_bdd.stack.config import ConfigError, SuiteConfig
from rbee_bdd.stack.targets.base import QUEEN_PORT, ProcessRow


def test_eventually_returns_the_first_truthy_value():
    values = iter([0, None, 5])
    assert eventually(lambda: next(values), 1, "a value") == 5


def test_eventually_says_what_it_last_saw():
    def never():
        raise AssertionError("queen lists 0 workers")

    with pytest.raises(EventuallyTimeout, match="last saw: assertion: queen lists 0 workers"):
        eventually(never, 0.1, "a worker")


def test_timeouts_scale_with_the_multiplier():
    set_timeout_multiplier(3)
    try:
        assert scaled(2) == 6
    finally:
        set_timeout_multiplier(1)
    with pytest.raises(ValueError):
        set_timeout_multiplier(0)


def test_config_rejects_unknown_targets_and_bad_numbers(tmp_path):
    with pytest.raises(ConfigError, match="target must be one of docker, local"):
        SuiteConfig.from_userdata({"target": "k8s"}, tmp_path)
    with pytest.raises(ConfigError, match="timeout_multiplier must be a number"):
        SuiteConfig.from_userdata({"timeout_multiplier": "fast"}, tmp_path)
    config = SuiteConfig.from_userdata({"target": "local", "queen_cmd": "/opt/q --verbose"}, tmp_path)
    assert config.queen_cmd == ["/opt/q", "--verbose"]


def test_transport_is_tls_unless_asked_or_the_build_does_not_claim_it(tmp_path):
    assert SuiteConfig.from_userdata({}, tmp_path).tls
    assert not SuiteConfig.from_userdata({"transport": "plain"}, tmp_path).tls
    assert not SuiteConfig.from_userdata({"profile": "minimal"}, tmp_path).tls
    assert SuiteConfig.from_userdata({"transport": "tls"}, tmp_path).tls
    with pytest.raises(ConfigError, match="transport must be one of tls, plain"):
        SuiteConfig.from_userdata({"transport": "https"}, tmp_path)
    with pytest.raises(ConfigError, match="does not claim tls"):
        SuiteConfig.from_userdata({"transport": "tls", "profile": "minimal"}, tmp_path)


def test_scenario_identity_labels_everything_with_run_and_owner():
    run = RunIdentity.new()
    scenario = run.scenario(3)
    assert scenario.labels()["rbee.bdd.run"] == run.run_id
    assert scenario.env()["RBEE_BDD_OWNER"] == run.owner
    assert owner_alive(run.owner)
    assert not owner_alive(f"{os.getpid()}:1")  # same pid, other start time: a reused pid
    assert not owner_alive("garbage")
    assert scenario.name("hive-1") == f"rbee-{run.run_id}-s3-hive-1"
    assert slug("Cold start: spawns a worker!") == "cold-start-spawns-a-worker"


def test_process_row_reads_the_worker_id():
    assert ProcessRow(1, "llm-worker-rbee --model m.gguf --worker-id w-1 --port 0").worker_id == "w-1"
    assert ProcessRow(2, "rbee-hive --port 7835").worker_id == ""


def test_metrics_parse_reads_samples_and_skips_comments():
    from rbee_bdd.clients.metrics import parse

    text = "# HELP rbee_queen_jobs_active jobs\n# TYPE rbee_queen_jobs_active gauge\nrbee_queen_jobs_active 2.0\n" \
           'x_total{outcome="done"} 7\n'
    assert parse(text) == {"rbee_queen_jobs_active": 2.0, 'x_total{outcome="done"}': 7.0}


def test_holds_waits_for_a_check_that_stops_raising():
    from rbee_bdd.core.waiting import holds

    attempts = iter([AssertionError("not yet"), AssertionError("still not"), None])

    def check():
        outcome = next(attempts)
        if outcome is not None:
            raise outcome

    holds(check, 2, "the check to pass")
    with pytest.raises(EventuallyTimeout, match="last saw: assertion: never"):
        holds(lambda: (_ for _ in ()).throw(AssertionError("never")), 0.1, "never")


def test_a_queen_address_of_its_own_is_on_loopback_and_bindable_at_the_queen_port():
    address = own_loopback_address()
    if address is None:  # a host with 127.0.0.1 only: the local target then starts queen first
        pytest.skip("this host binds 127.0.0.1 only")
    assert address != "127.0.0.1" and ipaddress.ip_address(address).is_loopback
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert low > QUEEN_PORT, "queen's port must be one the OS never hands out on its own"
    with socket.socket() as sock:
        sock.bind((address, QUEEN_PORT))
