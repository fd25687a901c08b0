"""The daemons' --config files: read at start (flags win, bad keys exit 2) and again on SIGHUP."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from rbee.common import config
from rbee.common.cli import ArgumentParser, non_negative_int, positive

BIN = Path(sys.executable).parent


def parser() -> ArgumentParser:
    made = ArgumentParser(prog="rbee-test")
    made.add_argument("--queen-url", required=True)
    made.add_argument("--max-workers", type=non_negative_int, default=0)
    made.add_argument("--stall-timeout", type=positive, default=30.0)
    made.add_argument("--no-cgroups", action="store_true")
    return made


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rbee.toml"
    path.write_text(text)
    return path


def test_the_file_sets_what_flags_do_not_and_flags_win(tmp_path):
    path = write(tmp_path, 'queen-url = "http://q:1"\nmax-workers = 3\nstall-timeout = 5\nno-cgroups = true\n')
    args = config.parse_args(parser(), "rbee-test", ["--config", str(path), "--max-workers", "1"])
    assert (args.queen_url, args.max_workers, args.stall_timeout, args.no_cgroups) == ("http://q:1", 1, 5.0, True)


@pytest.mark.parametrize("text, named", [
    ("max-wrokers = 2\n", "unknown key 'max-wrokers'"),
    ("max-workers = -1\n", "max-workers has a bad value -1"),
    ("stall-timeout = true\n", "stall-timeout must be a string or a number"),
    ("no-cgroups = 1\n", "no-cgroups must be true or false"),
    ("max-workers = \n", "is not valid TOML"),
    ("log-level = \"loud\"\n", "log-level must be one of"),
])
def test_a_bad_file_exits_2_naming_the_key(tmp_path, capsys, text, named):
    path = write(tmp_path, 'queen-url = "http://q:1"\n' + text)
    with pytest.raises(SystemExit) as ended:
        config.parse_args(parser(), "rbee-test", ["--config", str(path)])
    assert ended.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"rbee-test: error: config file {path}") or "not valid TOML" in error, error
    assert named in error and error.count("\n") == 1, error


def test_a_missing_file_exits_2_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        config.parse_args(parser(), "rbee-test", ["--queen-url", "x", "--config", str(tmp_path / "none.toml")])
    assert ended.value.code == 2
    assert "cannot read the config file" in capsys.readouterr().err


def test_sighup_applies_run_time_keys_keeps_flags_and_names_restart_only_keys(tmp_path, caplog):
    path = write(tmp_path, 'queen-url = "http://q:1"\nmax-workers = 1\nstall-timeout = 5\n')
    args = config.parse_args(parser(), "rbee-test", ["--config", str(path), "--stall-timeout", "9"])
    applied: dict[str, object] = {}
    reloader = config.Reloader(args, {"max_workers": lambda v: applied.update(max_workers=v),
                                      "stall_timeout": lambda v: applied.update(stall_timeout=v)})
    path.write_text('queen-url = "http://q:2"\nmax-workers = 4\nstall-timeout = 7\n')
    with caplog.at_level(logging.WARNING):
        assert reloader.reload()
    assert applied == {"max_workers": 4}  # stall-timeout was a flag: the flag stays in force
    assert "queen-url changes only at a restart" in caplog.text


def test_a_bad_file_on_sighup_keeps_the_configuration_and_logs_one_error(tmp_path, caplog):
    path = write(tmp_path, 'queen-url = "http://q:1"\nmax-workers = 1\n')
    args = config.parse_args(parser(), "rbee-test", ["--config", str(path)])
    applied: dict[str, object] = {}
    reloader = config.Reloader(args, {"max_workers": lambda v: applied.update(max_workers=v)})
    path.write_text("max-workers = 4\ncolour = 'blue'\n")
    with caplog.at_level(logging.ERROR):
        assert not reloader.reload()
    assert applied == {}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "unknown key 'colour'" in errors[0].getMessage()


@pytest.mark.parametrize("program", ["queen-rbee", "rbee-hive", "llm-worker-rbee"])
def test_each_daemon_refuses_an_unknown_key_at_start(tmp_path, program):
    path = write(tmp_path, "no-such-setting = 1\n")
    done = subprocess.run([str(BIN / program), "--config", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == f"{program}: error: config file {path}: unknown key 'no-such-setting'"
