"""behave's environment hooks, as a library: ``features/environment.py`` only delegates here."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rbee_bdd import timeline
from rbee_bdd.capabilities import docker_reason, missing
from rbee_bdd.cleanup import CleanupStack, install_signal_handlers
from rbee_bdd.config import SuiteConfig
from rbee_bdd.identity import RunIdentity, slug
from rbee_bdd.report import FACTS, ScenarioFact, append_fact
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
    (config.reports_dir / FACTS).unlink(missing_ok=True)
    context.suite_config = config
    context.run_identity = RunIdentity.new()
    context.scenario_count = 0
    say(f"target={config.target} run={context.run_identity.run_id} "
        f"timeout_multiplier={config.timeout_multiplier:g}; swept {len(removed)} leftover(s) of dead runs")


def before_scenario(context: Any, scenario: Any) -> None:
    context.stack = None
    context.cleanup = CleanupStack(scenario.name)
    context.scenario_started = time.monotonic()
    context.skip_reason = ""
    timeline.begin()
    reason = missing(list(scenario.effective_tags), context.suite_config.target)
    if reason:
        say(f"skipping {scenario.name!r}: {reason}")
        context.skip_reason = reason
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
    failed = scenario.status == "failed" or bool(errors or leftovers)
    status = "failed" if failed else getattr(scenario.status, "name", str(scenario.status))
    config: SuiteConfig = context.suite_config
    append_fact(config.reports_dir, ScenarioFact(
        feature=scenario.feature.name, scenario=scenario.name, location=str(scenario.location), status=status,
        seconds=round(time.monotonic() - context.scenario_started, 3), skip_reason=context.skip_reason,
        stack_start_s=stack.start_seconds if stack is not None else None, leftovers=leftovers))
    if failed:
        say(f"logs of {scenario.name!r}: {getattr(context, 'log_dir', '(none)')}")
        attach_evidence(context)
    if leftovers:
        removed = sweep(of_scenario(context.identity.scenario_id))
        raise LeftoverError(f"scenario left behind: {', '.join(leftovers)}"
                            f" (removed {len(removed)} after the fact)")
    if errors:
        raise LeftoverError("cleanup failed: " + "; ".join(errors))


def attach_evidence(context: Any) -> None:
    """Give a failed scenario's report its daemons' logs, its fault timeline and the last wait."""
    formatters = [f for f in getattr(context._runner, "formatters", []) if hasattr(f, "embed")]
    if not formatters:
        return
    attachments = [("fault timeline and last wait", timeline.current().render())]
    log_dir: Path | None = getattr(context, "log_dir", None)
    for log in sorted(log_dir.glob("*.log")) if log_dir else []:
        attachments.append((f"log of {log.stem}", log.read_text(errors="replace")[-200_000:]))
    for formatter in formatters:
        for caption, text in attachments:
            formatter.embed(mime_type="text/plain", data=text, caption=caption)
