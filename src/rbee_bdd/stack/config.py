"""The suite's settings, from ``behave.ini [behave.userdata]`` and ``-D key=value``."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rbee_bdd.stack.profiles import Profile, ProfileError
from rbee_bdd.stack.profiles import load as load_profile

TARGETS = ("docker", "local")

# Every setting the suite reads (behave.ini [behave.userdata], -D key=value), with what it does.
SETTINGS = {
    "target": "docker (default) or local",
    "timeout_multiplier": "scales every timeout of the harness (slow machines: 2 or 3)",
    "image": "the image of queen and hive containers (docker target)",
    "models_dir": "the folder of <name>.gguf models the hives serve",
    "reports_dir": "where logs, facts and reports go",
    "heartbeat_interval": "the hives' heartbeat period in seconds",
    "hive_stale_after": "queen's staleness bound in seconds",
    "queen_cmd": "queen's command (in the image on docker, on the host on local)",
    "hive_cmd": "the hive's command (likewise)",
    "worker_cmd": "the worker command the hives start",
    "keeper_cmd": "rbee-keeper's command, on the host",
    "nvidia_smi": "the nvidia-smi the hives query (default: the suite's fake)",
    "coverage": "1: the daemons measure their own coverage (make bdd-report)",
    "profile": "the build's conformance profile: a name in profiles/ or a .toml path (default reference)",
    "transport": "tls (the default where the profile claims tls) or plain: how a scenario's daemons talk unless "
                 "its stack settings say",
}
TRANSPORTS = ("tls", "plain")


PROJECT = Path(__file__).resolve().parents[3]  # the suite's checkout: fixtures/, profiles/
COVERAGE_CONFIG = PROJECT / "fixtures" / "coverage-daemons.ini"


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


def find_program(name: str) -> str:
    """A program on PATH, or beside the running Python (the suite's virtualenv)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    return found or name


@dataclass(frozen=True)
class SuiteConfig:
    target: str
    timeout_multiplier: float
    image: str
    models_dir: Path
    reports_dir: Path
    heartbeat_interval: float
    hive_stale_after: float
    queen_cmd: list[str]  # on the docker target: a command inside the image
    hive_cmd: list[str]
    worker_cmd: list[str]
    keeper_cmd: list[str]  # always runs on the host
    nvidia_smi: str  # program the hives query; the fake one by default (machines without GPU)
    profile: Profile = field(default_factory=lambda: Profile("reference"))  # what the build claims
    coverage: bool = False  # measure the daemons with coverage.py (data in <reports>/coverage/data)
    tls: bool = False  # a scenario's daemons talk over TLS unless its stack settings say otherwise

    @property
    def fake_nvidia_smi(self) -> bool:
        """Whether the hives query the suite's own fake nvidia-smi (fixtures/bin/nvidia-smi)."""
        return self.nvidia_smi.endswith("fixtures/bin/nvidia-smi")

    @property
    def coverage_data(self) -> Path:
        return self.reports_dir / "coverage" / "data"

    def coverage_env(self) -> dict[str, str]:
        """What a local daemon or keeper process needs to measure itself (nothing without coverage)."""
        if not self.coverage:
            return {}
        self.coverage_data.mkdir(parents=True, exist_ok=True)
        return {"COVERAGE_PROCESS_START": str(COVERAGE_CONFIG), "COVERAGE_FILE": str(self.coverage_data / ".coverage")}

    @classmethod
    def from_userdata(cls, data: Mapping[str, str], base: Path) -> SuiteConfig:
        def get(key: str, default: str) -> str:
            return str(data.get(key, default)).strip()

        def number(key: str, default: str) -> float:
            try:
                value = float(get(key, default))
            except ValueError:
                raise ConfigError(f"-D {key} must be a number, got {get(key, default)!r}") from None
            if value <= 0:
                raise ConfigError(f"-D {key} must be greater than 0, got {value}")
            return value

        if unknown := sorted(set(data) - set(SETTINGS)):
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
        target = get("target", "docker")
        if target not in TARGETS:
            raise ConfigError(f"-D target must be one of {', '.join(TARGETS)}, got {target!r}")

        try:
            profile = load_profile(get("profile", "reference"), PROJECT)
        except ProfileError as exc:
            raise ConfigError(f"-D profile: {exc}") from None

        transport = get("transport", "tls" if "tls" in profile.claims else "plain")
        if transport not in TRANSPORTS:
            raise ConfigError(f"-D transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        if transport == "tls" and "tls" not in profile.claims:
            raise ConfigError(f"-D transport=tls: the profile {profile.name!r} does not claim tls "
                              "(its build has no --tls-cert); use -D transport=plain")

        def command(key: str, program: str, on_host: bool = False) -> list[str]:
            """The user's words, else the profile's; else, on the host, the program found there, and in a
            container its name."""
            if words := shlex.split(get(key, "")) or shlex.split(profile.programs.get(key.removesuffix("_cmd"), "")):
                return words
            return [find_program(program)] if on_host or target == "local" else [program]

        return cls(
            target=target,
            timeout_multiplier=number("timeout_multiplier", "1"),
            image=get("image", "rbee-stack:latest"),
            models_dir=(base / get("models_dir", "fixtures/models")).resolve(),
            reports_dir=(base / get("reports_dir", "reports")).resolve(),
            heartbeat_interval=number("heartbeat_interval", "0.5"),
            hive_stale_after=number("hive_stale_after", "3"),
            queen_cmd=command("queen_cmd", "queen-rbee"),
            hive_cmd=command("hive_cmd", "rbee-hive"),
            worker_cmd=command("worker_cmd", "llm-worker-rbee"),
            keeper_cmd=command("keeper_cmd", "rbee-keeper", on_host=True),
            nvidia_smi=get("nvidia_smi", "") or str((base / "fixtures" / "bin" / "nvidia-smi").resolve()),
            coverage=get("coverage", "0").lower() in ("1", "true", "yes", "on"),
            profile=profile,
            tls=transport == "tls",
        )
