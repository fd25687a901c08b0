"""A mistyped tag is named with the nearest registered one."""

from rbee_bdd.runner.tag_hints import hints, selected_tags


def test_the_tags_of_every_expression_form_are_found() -> None:
    assert selected_tags(["--tags", "@integration and not @slow", "-t", "~@p2", "--tags=@faults or @oom",
                          "-D", "x=@y"]) == ["integration", "slow", "p2", "faults", "oom"]


def test_a_mistyped_tag_is_named_with_the_nearest_and_a_known_one_is_not() -> None:
    assert hints(["--tags", "@naration"]) == ["@naration is no tag of this suite; did you mean @narration?"]
    assert hints(["--tags", "@integration and not @slwo"]) == ["@slwo is no tag of this suite; did you mean @slow?"]
    assert hints(["--tags", "@integration and @contract.sec.tokens and not @needs.gpu"]) == []
    assert hints(["--tags", "@zzzzqqq"])[0].startswith("@zzzzqqq is no tag of this suite (the registered tags")
