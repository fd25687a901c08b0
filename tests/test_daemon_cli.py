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
                                         ("--body-timeout", "0"), ("--body-timeout", "soon"),
                                         ("--worker-stall-timeout", "-1"), ("--worker-stall-timeout", "never"),
                                         ("--queue-timeout", "0"), ("--queue-timeout", "-3"),
                                         ("--audit-max-bytes", "-1"), ("--audit-max-bytes", "1.5k")])
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


def test_a_blank_cluster_token_in_the_environment_is_refused_not_taken_as_none():
    done = subprocess.run([str(BIN / "queen-rbee")], capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": str(BIN), "RBEE_CLUSTER_TOKEN": "   "})
    assert done.returncode == 2
    assert done.stderr.strip() == "queen-rbee: error: $RBEE_CLUSTER_TOKEN is set but empty", done.stderr


def test_credentials_come_from_the_credentials_directory_when_no_flag_names_them(tmp_path):
    import time
    import urllib.error
    import urllib.request

    folder = tmp_path / "credentials"
    folder.mkdir(mode=0o700)
    token = "c" * 32
    (folder / "rbee-cluster-token").write_text(token + "\n")
    (folder / "rbee-cluster-token").chmod(0o400)  # as systemd's LoadCredential= leaves it
    port_file = tmp_path / "port"
    queen = subprocess.Popen([str(BIN / "queen-rbee"), "--port", "0", "--port-file", str(port_file)],
                             env={"PATH": str(BIN), "CREDENTIALS_DIRECTORY": str(folder)},
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and time.monotonic() < deadline and queen.poll() is None:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{int(port_file.read_text())}/v1/hives"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 401
        asked = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        assert urllib.request.urlopen(asked, timeout=10).status == 200
    finally:
        queen.terminate()
        queen.wait(30)
