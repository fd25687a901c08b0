"""behave hooks: all the work is in rbee_bdd.runner.hooks."""

from rbee_bdd.runner import hooks, vocabulary

vocabulary.register()  # before behave loads the steps, which use its types


def before_all(context):
    hooks.before_all(context)


def before_scenario(context, scenario):
    hooks.before_scenario(context, scenario)


def before_step(context, step):
    hooks.before_step(context, step)


def after_scenario(context, scenario):
    hooks.after_scenario(context, scenario)
