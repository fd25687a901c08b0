"""A chaos run inside a scenario: the nemesis, the clients, and the checker's verdict."""

from behave import then, when
from hamcrest import assert_that, equal_to

from rbee_bdd.faults.chaos.nemesis import faults_for
from rbee_bdd.faults.chaos.run import TIMELINE, Settings, run
from rbee_bdd.runner.hooks import attach_picture
from rbee_bdd.runner.world import StepContext


@when("a chaos run with seed {seed:d} injects faults for {seconds:Seconds} against {clients:d} clients")
def step_chaos_run(context: StepContext, seed, seconds, clients):
    faults, left_out = faults_for(context.suite_config.target)
    for reason in left_out:
        print(f"chaos: {reason}", flush=True)
    settings = Settings(seed=seed, duration_s=seconds, clients=clients, faults=faults)
    out_dir = context.log_dir / "chaos"
    context.world.faults.chaos_violations = run(context.stack, context.cleanup, settings, out_dir)
    attach_picture(context, out_dir / TIMELINE, f"chaos timeline, seed {seed}")


@then("the checker finds no violation in the run's history")
def step_no_violation(context: StepContext):
    described = [v.describe() for v in context.world.faults.chaos_violations]
    assert_that(described, equal_to([]), "the checker's violations")
