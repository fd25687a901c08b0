"""behave's environment hooks, as a library: ``features/environment.py`` only delegates here."""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

from behave.formatter.base import Formatter
from behave.model import Scenario, Step
from behave.runner import Context

from rbee_bdd.core import behave_adapter, timeline
from rbee_bdd.core.cleanup import CleanupStack, install_signal_handlers, signal_received
from rbee_bdd.core.identity import PART_ENV, RunIdentity
from rbee_bdd.core.waiting import set_diagnosis, set_timeout_multiplier
from rbee_bdd.host.capabilities import missing
from rbee_bdd.host.engine import EngineUnavailable, connect, require_image
from rbee_bdd.host.sweep import of_scenario, sweep
from rbee_bdd.reports.facts import FACTS, ScenarioFact, append_fact, failed_step
from rbee_bdd.runner import reaper
from rbee_bdd.runner.log_scan import declared, scan
from rbee_bdd.runner.logdirs import new_run, scenario_folder
from rbee_bdd.runner.selection import drop_unselected
from rbee_bdd.runner.tags import CONTRACT_PREFIX
from rbee_bdd.runner.world import World
from rbee_bdd.stack.config import ConfigError, SuiteConfig
from rbee_bdd.stack.diagnosis import describe
from rbee_bdd.stack.stack import Stack


class LeftoverError(AssertionError):
    """A scenario left a process, container, network or directory behind."""


class LogScanError(AssertionError):
    """A daemon log of the scenario holds a traceback, a credential or a forbidden phrase."""


class SuiteSetupError(Exception):
    """The run cannot start (a bad setting, no engine, a missing image); the message says why."""


def say(text: str, err: bool = False) -> None:
    """A line on the real stdout (or stderr): behave captures (and may drop) what hooks print."""
    out = (sys.__stderr__ or sys.stderr) if err else (sys.__stdout__ or sys.stdout)
    out.write(f"rbee-bdd: {text}\n")
    out.flush()


def before_all(context: Context) -> None:
    try:
        config = SuiteConfig.from_userdata(context.config.userdata, Path.cwd())
        if config.target == "docker":
            require_image(connect(), config.image)
    except (ConfigError, EngineUnavailable) as exc:
        # behave reports an exception of before_all as one "HOOK-ERROR" line: say it plainly first
        say(f"cannot start the run: {exc}", err=True)
        raise SuiteSetupError(str(exc)) from None
    behave_adapter.check_private_api()
    set_timeout_multiplier(config.timeout_multiplier)
    install_signal_handlers()
    drop_unselected(behave_adapter.features(context), context.config)
    removed = sweep()
    if not os.environ.get(PART_ENV):  # a part of a parallel run shares the run's facts
        (config.reports_dir / FACTS).unlink(missing_ok=True)
    context.suite_config = config
    context.run_identity = RunIdentity.new()
    reaper.start(context.run_identity.run_id, context.run_identity.owner)  # cleans up if this runner is killed
    context.scenario_count = 0
    say(f"target={config.target} profile={config.profile.name} transport={'tls' if config.tls else 'plain'} "
        f"run={context.run_identity.run_id} "
        f"timeout_multiplier={config.timeout_multiplier:g}; swept {len(removed)} leftover(s) of dead runs")


def before_scenario(context: Context, scenario: Scenario) -> None:
    context.stack = None
    context.world = World()  # what this scenario's steps share
    context.cleanup = CleanupStack(scenario.name)
    context.scenario_started = time.monotonic()
    context.skip_reason = ""
    context.not_run = behave_adapter.aborted(context)  # the run was interrupted: behave only walks the rest
    timeline.begin()
    set_diagnosis(lambda: describe(context.stack) if context.stack is not None else "")
    if context.not_run:
        return
    tags = list(scenario.effective_tags)
    config: SuiteConfig = context.suite_config
    reason = config.profile.unclaimed(tags) or missing(tags, config.target)  # what the build does not claim first
    if reason:
        say(f"skipping {scenario.name!r}: {reason}")
        context.skip_reason = reason
        scenario.skip(reason)
        return
    context.scenario_count += 1
    context.identity = context.run_identity.scenario(context.scenario_count)
    folder = scenario_folder(config.reports_dir / "logs", scenario.feature.filename, scenario.name)
    context.log_dir = new_run(folder, time.strftime("%Y%m%d-%H%M%S-") + context.run_identity.run_id)


def before_step(context: Context, step: Step) -> None:
    timeline.step(f"{step.keyword} {step.name}")


def after_scenario(context: Context, scenario: Scenario) -> None:
    if context.not_run:
        return
    evidence = timeline.current().render()  # before the teardown's own waits
    set_diagnosis(None)  # the teardown's waits need no diagnosis of a stack going away
    interrupted = ""
    try:
        errors = context.cleanup.run()
    except KeyboardInterrupt as exc:  # a Ctrl+C during the cleanup, which finished first
        interrupted, errors = f"{exc or 'interrupted'} during its cleanup", []
    if not interrupted and (name := signal_received()):  # a Ctrl+C during the steps: behave stopped them
        interrupted = f"interrupted by {name} during its steps"
    stack: Stack | None = context.stack
    leftovers = stack.leftovers() if stack is not None else []
    findings = scan_logs(context, scenario)
    failed = getattr(scenario.status, "name", "") in ("failed", "error") or bool(errors or leftovers or findings)
    status = "interrupted" if interrupted else "failed" if failed else getattr(scenario.status, "name", "?")
    step, error = failed_step(scenario)
    config: SuiteConfig = context.suite_config
    append_fact(config.reports_dir, ScenarioFact(
        feature=scenario.feature.name, scenario=scenario.name, status=status,
        location=f"{os.path.relpath(scenario.location.filename)}:{scenario.location.line}",
        seconds=round(time.monotonic() - context.scenario_started, 3), skip_reason=context.skip_reason,
        stack_start_s=stack.start_seconds if stack is not None else None, leftovers=leftovers,
        failed_step=step, error=error or "; ".join([*errors, *leftovers, *findings]),
        caps=sorted(t.removeprefix("cap.") for t in scenario.effective_tags if t.startswith("cap.")),
        clauses=sorted(t.removeprefix(CONTRACT_PREFIX) for t in scenario.effective_tags
                       if t.startswith(CONTRACT_PREFIX))))
    if failed:
        say(f"logs of {scenario.name!r}: {getattr(context, 'log_dir', '(none)')}")
        attach_evidence(context, evidence)
    if interrupted:
        behave_adapter.mark_outcome(scenario, "interrupted")  # for the progress lines: its steps may all have passed
        say(f"{scenario.name!r} {interrupted}; the cleanup finished, the run stops", err=True)
        context.abort(reason=interrupted)
        return
    if leftovers:
        removed = sweep(of_scenario(context.identity.scenario_id))
        raise LeftoverError(f"scenario left behind: {', '.join(leftovers)}"
                            f" (removed {len(removed)} after the fact)")
    if errors:
        raise LeftoverError("cleanup failed: " + "; ".join(errors))
    if findings:
        raise LogScanError("a daemon's log holds what it must not:\n  " + "\n  ".join(findings[:20]))


def scan_logs(context: Context, scenario: Scenario) -> list[str]:
    """The scenario's daemon logs read for tracebacks, its credentials and forbidden phrases (log_scan)."""
    log_dir = getattr(context, "log_dir", None)
    if log_dir is None:
        return []
    stack: Stack | None = context.stack
    credentials = stack.credentials if stack is not None else None
    world = getattr(context, "world", None)
    secrets = [*(credentials.secrets() if credentials is not None else []),
               *(world.probe.refused_secrets if world is not None else [])]
    return scan(Path(log_dir), secrets, declared(set(scenario.effective_tags)))


def embedding_formatters(context: Context) -> list[Formatter]:
    """The running formatters that take attachments (the HTML report's)."""
    return [f for f in behave_adapter.formatters(context) if hasattr(f, "embed")]


def attach_picture(context: Context, path: Path, caption: str) -> None:
    """Show a PNG in the HTML report, under the step that runs now."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    for formatter in embedding_formatters(context):
        formatter.embed(mime_type="image/png", data=data, caption=caption)


def attach_evidence(context: Context, evidence: str) -> None:
    """Give a failed scenario's report its daemons' logs, its fault timeline and the failed step's last wait."""
    formatters = embedding_formatters(context)
    if not formatters:
        return
    attachments = [("fault timeline and last wait", evidence)]
    log_dir: Path | None = getattr(context, "log_dir", None)
    for log in sorted(log_dir.glob("*.log")) if log_dir else []:
        attachments.append((f"log of {log.stem}", log.read_text(errors="replace")[-200_000:]))
    for formatter in formatters:
        for caption, text in attachments:
            formatter.embed(mime_type="text/plain", data=text, caption=caption)
