"""The chaos checker on small hand-made histories: a correct one passes, each kind of wrong one fails."""

import pytest

from rbee_bdd.faults.chaos.checker import Bounds, check

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


def swapped(events: list[dict], a: int, b: int) -> list[dict]:
    """*events* with the indexes of tokens *a* and *b* swapped (the texts stay where they arrived)."""
    tokens = [e for e in events if e["type"] == "token"]
    tokens[a]["i"], tokens[b]["i"] = tokens[b]["i"], tokens[a]["i"]
    return events


def token_changed(events: list[dict], index: int, text: str) -> list[dict]:
    for event in events:
        if event["type"] == "token" and event["i"] == index:
            event["text"] = text
    return events


def extra_token(events: list[dict], text: str) -> list[dict]:
    last = [e for e in events if e["type"] == "token"][-1]
    events.insert(events.index(last) + 1, {**last, "t": last["t"] + 0.001, "i": last["i"] + 1, "text": text})
    return events


ERROR = "[ERROR] WORKER_CRASHED: gone"
# every way each invariant can break, one history each: a checker that gets lax fails one of these
def repeated(events: list[dict], index: int) -> list[dict]:
    position = next(n for n, e in enumerate(events) if e["type"] == "token" and e["i"] == index)
    return [*events[:position + 1], dict(events[position]), *events[position + 1:]]


def shifted(events: list[dict]) -> list[dict]:
    return [dict(e, i=e["i"] + 1) if e["type"] == "token" else e for e in events]


def second_end(events: list[dict], marker: str) -> list[dict]:
    return [*events, {"t": 1.6, "type": "end", "op": 1, "marker": marker, "via": "stream"}]


SHUTDOWN = {"t": 1.05, "type": "fault", "name": "queen-shutdown"}
MUST_FAIL = {
    "token-order: a repeat": ("token-order", lambda: [REF, *repeated(job(1, "abc"), 1)]),
    "token-order: a loss": ("token-order", lambda: [REF, *[e for e in job(1, "abc") if e.get("i") != 1]]),
    "token-order: a swap": ("token-order", lambda: [REF, *swapped(job(1, "abc"), 0, 1)]),
    "token-order: not from 0": ("token-order", lambda: [REF, *shifted(job(1, "abc"))]),
    "done: another first token": ("done-is-reference", lambda: [REF, *token_changed(job(1, "abc"), 0, "x")]),
    "done: another later token": ("done-is-reference", lambda: [REF, *token_changed(job(1, "abc"), 2, "x")]),
    "done: one token short": ("done-is-reference", lambda: [REF, *job(1, "ab")]),
    "done: one token more": ("done-is-reference", lambda: [REF, *extra_token(job(1, "abc"), "d")]),
    "prefix: another first token": ("prefix-of-reference", lambda: [REF, *job(1, "xb", ERROR)]),
    "prefix: another later token": ("prefix-of-reference", lambda: [REF, *job(1, "ax", ERROR)]),
    "prefix: longer than the reference": ("prefix-of-reference",
                                          lambda: [REF, *extra_token(job(1, "abc", ERROR), "d")]),
    "one-end: none": ("one-end", lambda: [REF, *[e for e in job(1, "abc") if e["type"] != "end"]]),
    "one-end: two alike": ("one-end", lambda: [REF, *second_end(job(1, "abc"), "[DONE]")]),
    "one-end: two different": ("one-end", lambda: [REF, *second_end(job(1, "abc"), "[CANCELLED]")]),
    "marker-on-stream: closed without one": ("marker-on-stream", lambda: [REF, *job(1, "abc", via="status")]),
    "shutting down: accepted after": ("no-job-while-shutting-down", lambda: [REF, SHUTDOWN, *job(1, "abc")]),
    "registry: a worker only queen lists": ("registry-converged", lambda: [final(registry_workers=["w1", "w9"])]),
    "registry: a worker queen lost": ("registry-converged", lambda: [final(process_workers=["w1", "w9"])]),
    "registry: another worker": ("registry-converged", lambda: [final(registry_workers=["w2"])]),
    "released: a job still active": ("released", lambda: [final(jobs_active=1)]),
    "released: a stream still open": ("released", lambda: [final(streams_open=1)]),
    "released: a worker still reserved": ("released", lambda: [final(reservations=1)]),
}


@pytest.mark.parametrize("case", sorted(MUST_FAIL))
def test_every_way_an_invariant_can_break_is_caught(case: str) -> None:
    invariant, history = MUST_FAIL[case]
    assert invariant in invariants(history()), case


def test_bounds_hold_at_their_edge_and_break_just_past_it() -> None:
    bound = Bounds(end_grace_s=10, memory_growth_bytes=1000)
    on_time, late = job(1, "abc"), job(2, "abc", start=1.0)
    on_time[0]["timeout_s"] = late[0]["timeout_s"] = 5
    on_time[-1]["t"] = 1.0 + 5 + 10  # exactly at the deadline plus the grace
    late[-1]["t"] = 1.0 + 5 + 10.01
    assert [v.invariant for v in check([REF, *on_time], bound)] == []
    assert [v.invariant for v in check([REF, *late], bound)] == ["ended-in-time"]
    at = final(memory_before={"queen": 0}, memory_after={"queen": 1000})
    over = final(memory_before={"queen": 0}, memory_after={"queen": 1001})
    assert [v.invariant for v in check([at], bound)] == []
    assert [v.invariant for v in check([over], bound)] == ["memory-bounded"]
    before = {"t": 0.95, "type": "fault", "name": "queen-shutdown"}  # just before the acceptance at 1.1: fails
    after = {"t": 1.2, "type": "fault", "name": "queen-shutdown"}  # after it: the job was taken in time
    assert invariants([REF, before, *job(1, "abc")]) == ["no-job-while-shutting-down"]
    assert invariants([REF, after, *job(1, "abc")]) == []
