"""The audit trail against an intruder who can write the file: each way is caught, by the chain or the anchor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rbee.common.audit import BREAK, AuditLog, anchor_path, canonical, verify
from rbee_bdd.clients.security import rechained


def trail(tmp_path: Path, records: int = 4) -> Path:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, "queen-rbee")
    for number in range(records):
        log.record("job.submit", "ok", principal="bdd-admin", target=f"job_id=job-{number}")
    return path


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(canonical(r) + "\n" for r in records))


def test_an_untouched_trail_matches_its_anchor(tmp_path: Path) -> None:
    path = trail(tmp_path)
    verdict = verify(path, anchor_path(path))
    assert verdict.intact and verdict.records == 4 and verdict.anchor == "matches its anchor"


@pytest.mark.parametrize("tamper, found", [
    ("cut the last record", "its tail is cut"),
    ("cut the last half", "its tail is cut"),
    ("empty the file", "the file is empty"),
    ("append a forged record with its hash recomputed", "records were added after"),
    ("edit a middle record and re-chain the rest", "not the one its anchor names"),
    ("delete a middle record and re-chain the rest", "its tail is cut"),
])
def test_what_the_chain_cannot_see_the_anchor_does(tmp_path: Path, tamper: str, found: str) -> None:
    path = trail(tmp_path)
    records = lines(path)
    if tamper == "cut the last record":
        write(path, records[:-1])
    elif tamper == "cut the last half":
        write(path, records[:2])
    elif tamper == "empty the file":
        path.write_text("")
    elif tamper == "append a forged record with its hash recomputed":
        write(path, rechained([*records, dict(records[-1], action="job.cancel", principal="forger")]))
    elif tamper == "edit a middle record and re-chain the rest":
        records[1]["principal"] = "someone-else"
        write(path, rechained(records))
    else:
        write(path, rechained(records[:1] + records[2:]))
    assert verify(path).intact  # the chain alone holds: only the anchor tells
    verdict = verify(path, anchor_path(path))
    assert not verdict.intact and found in verdict.anchor, verdict


@pytest.mark.parametrize("line, found", [
    ('"outcome":"denied:invalid","outcome":"ok"', "appears twice"),
    ('"principal":"bdd-\\u0061dmin"', "not written as the daemon writes records"),
])
def test_a_record_read_two_ways_is_refused(tmp_path: Path, line: str, found: str) -> None:
    path = trail(tmp_path)
    text = path.read_text().splitlines()
    record = lines(path)[1]
    key = line.split(":", 1)[0].strip('"')
    body = canonical(record)
    text[1] = body.replace(f'"{key}":{json.dumps(record[key])}', line, 1)
    assert text[1] != body
    path.write_text("\n".join(text) + "\n")
    verdict = verify(path)
    assert verdict.broken_at == 2 and found in verdict.why, verdict


def test_a_daemon_that_finds_its_trail_cut_records_the_break_and_goes_on(tmp_path: Path) -> None:
    path = trail(tmp_path)
    write(path, lines(path)[:2])
    log = AuditLog(path, "queen-rbee")  # the restart
    log.record("job.submit", "ok", principal="bdd-admin")
    records = lines(path)
    assert [r["action"] for r in records] == ["job.submit", "job.submit", BREAK, "job.submit"]
    assert records[2]["file_records"] == 2 and records[2]["anchor_records"] == 4
    verdict = verify(path, anchor_path(path))
    assert verdict.broken_at == 3 and "did not match its anchor" in verdict.why


def test_each_record_goes_to_the_syslog_sink_as_written(tmp_path: Path) -> None:
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    log = AuditLog(tmp_path / "audit.jsonl", "queen-rbee", sink=("127.0.0.1", listener.getsockname()[1]))
    log.record("job.submit", "ok", principal="bdd-admin")
    message = listener.recv(65536).decode()
    listener.close()
    assert message.startswith("<37>1 ") and " queen-rbee - audit - " in message
    assert message.endswith((tmp_path / "audit.jsonl").read_text().rstrip("\n"))
