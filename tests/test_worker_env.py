"""What a hive hands its workers: a minimal environment, and the cluster credential in a private file."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from rbee.hive.worker_env import WorkerCredential, env_names, worker_environment
from rbee_bdd.clients.security import unpassed_variables


def test_a_worker_gets_the_standard_names_the_named_ones_and_its_own_never_a_credential() -> None:
    parent = {"PATH": "/bin", "LC_ALL": "C", "HOSTNAME": "box", "RBEE_CLUSTER_TOKEN": "secret-cluster",
              "RBEE_TOKEN": "secret-user", "EXTRA": "x", "OTHER": "y"}
    env = worker_environment(parent, ("EXTRA", "RBEE_TOKEN"), {"JOB_ID": "j1"})
    assert env == {"PATH": "/bin", "LC_ALL": "C", "EXTRA": "x", "JOB_ID": "j1"}
    # the harness's own view of the contract agrees, and sees what a lax hive would pass
    assert unpassed_variables(env, ("EXTRA",)) == []
    assert unpassed_variables({**env, "HOSTNAME": "box"}, ("EXTRA",)) == ["HOSTNAME"]


@pytest.mark.parametrize("text", ["RBEE_CLUSTER_TOKEN", "A,RBEE_TOKEN", "1ABC", "A B", "", "A,,B"])
def test_worker_env_refuses_credentials_and_non_names(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        env_names(text)


def test_worker_env_takes_a_list_of_names() -> None:
    assert env_names("A,_B1, C") == ("A", "_B1", "C")


def test_the_credential_file_is_private_rewritten_whole_and_counts_changes(tmp_path: Path) -> None:
    credential = WorkerCredential(tmp_path / "cluster.token")
    assert credential.write("first-token-0123456789") and credential.generation == 1
    assert stat.S_IMODE(credential.path.stat().st_mode) == 0o600
    assert not credential.write("first-token-0123456789") and credential.generation == 1
    assert credential.write("second-token-0123456789") and credential.generation == 2
    assert credential.path.read_text() == "second-token-0123456789\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cluster.token"]
