"""A mistyped tag in a selection, named with the registered tag nearest to it.

``make bdd TAGS=@naration`` selects nothing; ``TAGS='@integration and not @slwo'`` silently
selects too much. Both are typing errors the tag registry can see.
"""

from __future__ import annotations

import difflib
import re

from rbee_bdd.runner.tags import CONTRACT_PREFIX, REGISTRY

TAG_OPTIONS = ("--tags", "-t")
WORDS = {"and", "or", "not"}


def selected_tags(behave_args: list[str]) -> list[str]:
    """The tags named in *behave_args*' tag expressions, without their ``@`` or ``~``."""
    expressions: list[str] = []
    for index, word in enumerate(behave_args):
        if word in TAG_OPTIONS and index + 1 < len(behave_args):
            expressions.append(behave_args[index + 1])
        elif word.startswith("--tags="):
            expressions.append(word.removeprefix("--tags="))
    names = [name for expression in expressions for name in re.findall(r"[@~]?([\w.-]+)", expression)]
    return [name for name in names if name not in WORDS]


def hints(behave_args: list[str], known: set[str] | None = None) -> list[str]:
    """One line for each tag the registry does not know: ``@naration is no tag; did you mean @narration?``"""
    registered = set(REGISTRY) if known is None else known
    lines = []
    for name in selected_tags(behave_args):
        if name in registered or name.startswith(CONTRACT_PREFIX):
            continue
        nearest = difflib.get_close_matches(name, sorted(registered), n=1, cutoff=0.6)
        guess = f"; did you mean @{nearest[0]}?" if nearest else " (the registered tags: src/rbee_bdd/runner/tags.py)"
        lines.append(f"@{name} is no tag of this suite{guess}")
    return lines
