"""behave's environment hooks, as a library: ``features/environment.py`` only delegates here."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from rbee_bdd.capabilities import docker_reason, missing
from rbee_bdd.cleanup import CleanupStack, install_signal_handlers
from rbee_bdd.config import SuiteConfig
from rbee_bdd.identity import RunIdentity, slug
from rbee_bdd.stack import Stack
from rbee_bdd.sweep import of_scenario, sweep
from rbee_bdd.waiting import set_timeout_multiplier


class LeftoverError(AssertionError):
    """A scenario left a process, container, network or directory behind."""


def say(text: str) -> None:
    """A line on the real stdout: behave captures (and may drop) what scenario hooks print."""
    out = sys.__stdout__ or sys.stdout
    out.write(f"rbee-bdd: {text}\n")
    out.flush()


def before_all(context: Any) -> None:
    config = SuiteConfig.from_userdata(context.config.userdata, Path.cwd())
    set_timeout_multiplier(config.timeout_multiplier)
    install_signal_handlers()
    if config.target == "docker" and (reason := docker_reason()):
        raise SystemExit(f"rbee-bdd: cannot use the docker target: {reason}")
    removed = sweep()
    context.suite_config = config
    context.run_identity = RunIdentity.new()
    context.scenario_count = 0
    say(f"target={config.target} run={context.run_identity.run_id} "
        f"timeout_multiplier={config.timeout_multiplier:g}; swept {len(removed)} leftover(s) of dead runs")


def before_scenario(context: Any, scenario: Any) -> None:
    context.stack = None
    context.cleanup = CleanupStack(scenario.name)
    reason = missing(list(scenario.effective_tags), context.suite_config.target)
    if reason:
        say(f"skipping {scenario.name!r}: {reason}")
        scenario.skip(reason)
        return
    context.scenario_count += 1
    context.identity = context.run_identity.scenario(context.scenario_count)
    config: SuiteConfig = context.suite_config
    context.log_dir = config.reports_dir / "logs" / slug(scenario.feature.name) / slug(scenario.name)
    shutil.rmtree(context.log_dir, ignore_errors=True)
    context.log_dir.mkdir(parents=True, exist_ok=True)


def start_stack(context: Any, hives: int, **options: Any) -> Stack:
    """Create and start the scenario's stack; its teardown is registered first."""
    context.stack = Stack(context.suite_config, context.identity, context.log_dir, context.cleanup)
    context.stack.start(hives, **options)
    return context.stack


def after_scenario(context: Any, scenario: Any) -> None:
    errors = context.cleanup.run()
    stack: Stack | None = context.stack
    leftovers = stack.leftovers() if stack is not None else []
    if scenario.status == "failed" or errors or leftovers:
        say(f"logs of {scenario.name!r}: {getattr(context, 'log_dir', '(none)')}")
    if leftovers:
        removed = sweep(of_scenario(context.identity.scenario_id))
        raise LeftoverError(f"scenario left behind: {', '.join(leftovers)}"
                            f" (removed {len(removed)} after the fact)")
    if errors:
        raise LeftoverError("cleanup failed: " + "; ".join(errors))
