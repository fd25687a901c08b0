"""What one scenario's steps share, beyond behave's hooks: starting the scenario's stack."""

from __future__ import annotations

from typing import Any

from rbee_bdd.stack import Stack


def start_stack(context: Any, hives: int, **options: Any) -> Stack:
    """Create and start the scenario's stack (its teardown is registered first) as ``context.stack``."""
    context.stack = Stack(context.suite_config, context.identity, context.log_dir, context.cleanup)
    context.stack.start(hives, **options)
    return context.stack
