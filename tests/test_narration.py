from rbee.common.narration import HUMAN_MAX, Narration, clip, parse_line


def test_line_round_trips_through_parse():
    event = Narration("llm-worker-rbee", "model_load", "loading tinyllama.gguf")
    assert parse_line(event.line()) == ("llm-worker-rbee", "model_load", "loading tinyllama.gguf")


def test_ordinary_log_lines_are_not_narration():
    for line in ("INFO starting", "[worker] no-colon here", "[Bad Actor] x : y", "", "[a] act :"):
        assert parse_line(line) is None, line


def test_human_text_is_clipped_to_100_characters():
    event = Narration("queen-rbee", "job_create", "x" * 500)
    assert len(event.human) == HUMAN_MAX
    assert event.human.endswith("…")
    assert clip("short") == "short"


def test_from_dict_ignores_unknown_keys():
    event = Narration.from_dict({"actor": "a", "action": "b", "human": "c", "job_id": "j", "extra": 1})
    assert (event.actor, event.job_id) == ("a", "j")
