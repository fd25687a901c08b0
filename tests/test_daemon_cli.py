"""The daemons' command lines: bad input gives one clear line and a non-zero exit, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / program), *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("program", ["queen-rbee", "rbee-hive", "llm-worker-rbee", "rbee-keeper"])
def test_bad_flag_is_a_one_line_usage_error(program):
    done = run(program, "--no-such-flag")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith(f"{program}: error:")


def test_worker_with_missing_model_exits_1_with_one_line(tmp_path):
    done = run("llm-worker-rbee", "--model", str(tmp_path / "absent.gguf"))
    assert done.returncode == 1
    assert done.stderr.strip() == f"llm-worker-rbee: error: cannot read model {tmp_path / 'absent.gguf'}: " \
                                  "No such file or directory"


def test_worker_with_non_gguf_model_exits_1_with_one_line(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    done = run("llm-worker-rbee", "--model", str(bogus))
    assert done.returncode == 1
    assert done.stderr.strip() == f"llm-worker-rbee: error: model {bogus} is not a GGUF file"


def test_hive_with_missing_model_dir_exits_1(tmp_path):
    done = run("rbee-hive", "--queen-url", "http://127.0.0.1:1", "--models", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert done.stderr.strip() == f"rbee-hive: error: model directory {tmp_path / 'nope'} does not exist"


@pytest.mark.parametrize("value", ["-1", "later"])
def test_queen_refuses_a_bad_default_job_timeout_naming_the_flag(value):
    done = run("queen-rbee", "--default-job-timeout", value)
    assert done.returncode == 2
    assert done.stderr.startswith("queen-rbee: error:") and "--default-job-timeout" in done.stderr, done.stderr


def test_queen_with_negative_staleness_is_a_usage_error():
    done = run("queen-rbee", "--hive-stale-after", "-1")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_keeper_with_unreachable_queen_fails_clearly():
    done = run("rbee-keeper", "--queen-url", "http://127.0.0.1:9", "infer", "--model", "m", "hi")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("❌ Failed: cannot reach queen at http://127.0.0.1:9")


@pytest.mark.parametrize("flag, value", [("--worker-idle-timeout", "-1"), ("--worker-start-timeout", "0"),
                                         ("--worker-health-failures", "-1"), ("--worker-health-failures", "2.5"),
                                         ("--shutdown-grace", "0"), ("--download-stall-timeout", "0"),
                                         ("--log-level", "loud"),
                                         ("--worker-start-timeout", "soon")])
def test_hive_refuses_a_bad_lifecycle_bound_naming_the_flag(tmp_path, flag, value):
    done = run("rbee-hive", "--queen-url", "http://127.0.0.1:9", "--models", str(tmp_path), flag, value)
    assert done.returncode == 2
    assert done.stderr.startswith("rbee-hive: error:") and flag in done.stderr, done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr


@pytest.mark.parametrize("flag, value", [("--max-connections", "0"), ("--max-connections", "many"),
                                         ("--header-timeout", "0"), ("--header-timeout", "-1"),
                                         ("--body-timeout", "0"), ("--body-timeout", "soon")])
def test_a_bad_connection_limit_is_refused_naming_the_flag(flag, value):
    done = run("queen-rbee", flag, value)
    assert done.returncode == 2
    assert done.stderr.startswith("queen-rbee: error:") and flag in done.stderr, done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr


@pytest.mark.parametrize("value, named", [("RBEE_CLUSTER_TOKEN", "RBEE_CLUSTER_TOKEN"), ("A,RBEE_TOKEN", "RBEE_TOKEN"),
                                          ("1BAD", "1BAD")])
def test_hive_refuses_a_credential_or_a_non_name_in_worker_env(tmp_path, value, named):
    done = run("rbee-hive", "--queen-url", "http://127.0.0.1:9", "--models", str(tmp_path), "--worker-env", value)
    assert done.returncode == 2
    assert done.stderr.startswith("rbee-hive: error:") and "--worker-env" in done.stderr and named in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
