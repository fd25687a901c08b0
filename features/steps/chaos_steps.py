"""A chaos run inside a scenario: the nemesis, the clients, and the checker's verdict."""

from behave import then, when
from hamcrest import assert_that, equal_to

from rbee_bdd.capabilities import node_netns_reason
from rbee_bdd.chaos.nemesis import FAULTS, NETWORK_FAULTS
from rbee_bdd.chaos.run import Settings, run


@when("a chaos run with seed {seed:d} injects faults for {seconds:Seconds} against {clients:d} clients")
def step_chaos_run(context, seed, seconds, clients):
    target = context.suite_config.target
    faults = FAULTS + (NETWORK_FAULTS if node_netns_reason(target) is None else ())
    settings = Settings(seed=seed, duration_s=seconds, clients=clients, faults=faults)
    context.world.chaos_violations = run(context.stack, context.cleanup, settings, context.log_dir / "chaos")


@then("the checker finds no violation in the run's history")
def step_no_violation(context):
    described = [v.describe() for v in context.world.chaos_violations]
    assert_that(described, equal_to([]), "the checker's violations")
