"""The example configuration files: every setting of each daemon is in its file, and each daemon starts with it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROGRAMS = {"queen": "queen-rbee", "hive": "rbee-hive", "worker": "llm-worker-rbee"}


def flags(program: str) -> set[str]:
    """The long flags *program* takes, from its own --help (the no- forms of booleans left out)."""
    helped = subprocess.run([str(BIN / program), "--help"], capture_output=True, text=True, check=True).stdout
    return {f for f in re.findall(r"--([a-z][a-z0-9-]+)", helped) if f not in ("help", "config")
            and not f.startswith("no-")}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_setting_is_in_the_example(name: str) -> None:
    text = (ROOT / "examples" / f"{name}.toml").read_text()
    keys = set(re.findall(r"^#? ?([a-z][a-z0-9-]+) = ", text, re.MULTILINE))
    assert sorted(flags(PROGRAMS[name]) - keys) == [], f"settings of {PROGRAMS[name]} missing from examples/{name}.toml"
    assert sorted(keys - flags(PROGRAMS[name])) == [], f"keys in examples/{name}.toml that {PROGRAMS[name]} lacks"


def start(program: str, tmp: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    port_file = tmp / f"{program}.port"
    log = (tmp / f"{program}.log").open("w")
    process = subprocess.Popen([str(BIN / program), *args, "--port", "0", "--port-file", str(port_file)],
                               stdout=log, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{program} did not start: {(tmp / f'{program}.log').read_text()[-2000:]}")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{int(port_file.read_text())}"
    while True:
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=5).status == 200:
                return process, url
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_each_daemon_starts_with_its_example(tmp_path: Path) -> None:
    """The examples name production paths (/etc/rbee, /var/lib/rbee); flags, which win, point them here."""
    cluster = tmp_path / "cluster.token"
    cluster.write_text("c" * 32 + "\n")
    cluster.chmod(0o600)
    tokens = tmp_path / "tokens"
    tokens.write_text("ops admin " + "a" * 32 + "\n")
    tokens.chmod(0o600)
    models = ROOT / "fixtures" / "models"
    running = []
    try:
        queen, queen_url = start("queen-rbee", tmp_path, "--config", str(ROOT / "examples/queen.toml"),
                                 "--token-file", str(tokens), "--cluster-token-file", str(cluster),
                                 "--audit-log", str(tmp_path / "queen-audit.jsonl"))
        running.append(queen)
        hive, _ = start("rbee-hive", tmp_path, "--config", str(ROOT / "examples/hive.toml"), "--queen-url", queen_url,
                        "--models", str(models), "--state-dir", str(tmp_path / "hive"), "--no-cgroups",
                        "--cluster-token-file", str(cluster), "--audit-log", str(tmp_path / "hive-audit.jsonl"))
        running.append(hive)
        worker, _ = start("llm-worker-rbee", tmp_path, "--config", str(ROOT / "examples/worker.toml"),
                          "--model", str(models / "tinyllama.gguf"))
        running.append(worker)
    finally:
        for process in reversed(running):
            process.terminate()
            process.wait(60)
