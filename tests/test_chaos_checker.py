"""The chaos checker on small hand-made histories: a correct one passes, each kind of wrong one fails."""

from rbee_bdd.chaos.checker import Bounds, check

REF = {"t": 0.0, "type": "reference", "model": "m", "prompt": "p", "seed": 1, "max_tokens": 3, "text": "abc"}
PARAMS = {"model": "m", "prompt": "p", "seed": 1, "max_tokens": 3, "timeout_s": None}


def job(op: int, tokens: str, marker: str = "[DONE]", start: float = 1.0, via: str = "stream") -> list[dict]:
    events = [{"t": start, "type": "invoke", "op": op, "client": 0, **PARAMS},
              {"t": start + 0.1, "type": "accepted", "op": op, "job_id": f"job-{op}"}]
    events += [{"t": start + 0.2 + i / 100, "type": "token", "op": op, "i": i, "text": c} for i, c in enumerate(tokens)]
    return [*events, {"t": start + 0.5, "type": "end", "op": op, "marker": marker, "via": via}]


def disconnected(events: list[dict]) -> list[dict]:
    events[0]["plan"] = "disconnect"
    return events


def final(**overrides: object) -> dict:
    return {"t": 50.0, "type": "final", "registry_workers": ["w1"], "process_workers": ["w1"], "jobs_active": 0,
            "streams_open": 0, "reservations": 0, "memory_before": {"queen": 100}, "memory_after": {"queen": 120},
            **overrides}


def invariants(history: list[dict]) -> list[str]:
    return [v.invariant for v in check(history)]


def test_a_correct_history_passes() -> None:
    history = [REF, *job(1, "abc"), *job(2, "ab", "[ERROR] WORKER_CRASHED: gone", 2.0),
               *job(3, "a", "[CANCELLED]", 3.0), *disconnected(job(4, "a", "[CANCELLED]", 4.0, via="status")),
               {"t": 5.0, "type": "fault", "name": "kill-worker", "node": "hive-1"},
               {"t": 5.0, "type": "heal", "name": "kill-worker"}, final()]
    assert invariants(history) == []


def test_a_read_job_whose_stream_closed_without_a_marker_fails() -> None:
    assert invariants([REF, *job(1, "ab", "[DONE]", via="status")]) == ["marker-on-stream"]


def test_a_job_without_an_end_or_with_two_fails() -> None:
    no_end = [e for e in job(1, "abc") if e["type"] != "end"]
    two = [*job(2, "abc", start=2.0), {"t": 2.9, "type": "end", "op": 2, "marker": "[CANCELLED]"}]
    assert invariants([REF, *no_end, *two]) == ["one-end", "one-end"]


def test_a_repeated_or_lost_token_fails() -> None:
    repeated = job(1, "abc")
    repeated.insert(4, {**repeated[3]})  # token 1 twice
    assert "token-order" in invariants([REF, *repeated])
    lost = [e for e in job(2, "abc") if not (e["type"] == "token" and e["i"] == 1)]
    assert "token-order" in invariants([REF, *lost])


def test_a_done_job_must_be_the_reference_and_an_ended_one_a_prefix_of_it() -> None:
    assert invariants([REF, *job(1, "abd")]) == ["done-is-reference"]
    assert invariants([REF, *job(2, "ax", "[ERROR] TIMEOUT: late")]) == ["prefix-of-reference"]


def test_a_retry_after_the_first_token_fails_and_one_before_passes() -> None:
    history = job(1, "abc")
    before = {"t": 1.15, "type": "narration", "op": 1, "actor": "queen-rbee", "action": "job_retry"}
    after = {"t": 1.3, "type": "narration", "op": 1, "actor": "queen-rbee", "action": "job_retry"}
    assert invariants([REF, *history, before]) == []
    assert invariants([REF, *history, after]) == ["no-retry-after-first-token"]


def test_a_job_ending_long_after_its_deadline_and_the_last_heal_fails() -> None:
    late = job(1, "abc")
    late[0]["timeout_s"] = 5
    late[-1]["t"] = 60.0
    assert "ended-in-time" in [v.invariant for v in check([REF, *late], Bounds(end_grace_s=10))]


def test_a_job_accepted_while_queen_shuts_down_fails() -> None:
    shutdown = {"t": 0.5, "type": "fault", "name": "queen-shutdown", "node": "queen"}
    assert invariants([REF, shutdown, *job(1, "abc")]) == ["no-job-while-shutting-down"]


def test_the_final_state_must_have_converged_released_everything_and_kept_memory() -> None:
    assert invariants([final(registry_workers=["w1", "w2"])]) == ["registry-converged"]
    assert invariants([final(reservations=1)]) == ["released"]
    assert invariants([final(memory_after={"queen": 100 + 65 * 2**20})]) == ["memory-bounded"]


def test_a_violation_names_the_job_and_shows_the_window_around_it() -> None:
    fault = {"t": 1.25, "type": "fault", "name": "kill-worker", "node": "hive-1"}
    (violation,) = check([REF, fault, *job(7, "abd")])
    text = violation.describe()
    assert "done-is-reference" in text and "[7]" in text and "kill-worker" in text and "'job-7'" in text


def test_a_lost_job_passes_only_when_queen_was_restarted_while_it_ran() -> None:
    restart = [{"t": 1.3, "type": "fault", "name": "restart-queen", "node": "queen"},
               {"t": 2.0, "type": "heal", "name": "restart-queen"}]
    assert invariants([REF, *job(1, "ab", "[LOST]", via="status"), *restart]) == []
    assert invariants([REF, *job(1, "ab", "[LOST]", via="status")]) == ["lost-only-with-queen"]
    earlier = [{**e, "t": 0.5} for e in restart]  # before the job was accepted: no excuse
    assert invariants([REF, *job(1, "ab", "[LOST]", via="status"), *earlier]) == ["lost-only-with-queen"]
    assert invariants([REF, *job(1, "ax", "[LOST]", via="status"), *restart]) == ["prefix-of-reference"]


def test_a_fault_not_confirmed_from_outside_fails() -> None:
    confirmed = {"t": 1.2, "type": "fault", "name": "kill-worker", "node": "hive-1", "confirmed": True}
    unconfirmed = {**confirmed, "t": 1.4, "confirmed": False, "detail": "SIGKILL to w (pid 9), now S"}
    assert invariants([REF, *job(1, "abc"), confirmed]) == []
    assert invariants([REF, *job(1, "abc"), unconfirmed]) == ["fault-confirmed"]
