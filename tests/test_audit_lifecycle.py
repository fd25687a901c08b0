"""An audit trail across rotations, restarts and failed writes: one chain, walked in order by verify."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from rbee.common.audit import CURRENT, AuditLog, anchor_path, rotated_files, verify


def write_records(log: AuditLog, count: int) -> None:
    for number in range(count):
        log.record("auth", "denied:missing", target=f"/v1/hives?n={number}")


def test_a_trail_rotates_below_its_bound_and_verifies_as_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, "queen-rbee", max_bytes=1000)
    write_records(log, 12)
    files = [*rotated_files(path), path]
    assert len(files) >= 3 and all(f.stat().st_size <= 1000 for f in files)
    first_of = [json.loads(f.read_text().splitlines()[0]) for f in files]
    last_of = [json.loads(f.read_text().splitlines()[-1]) for f in files]
    assert [r["prev"] for r in first_of[1:]] == [r["hash"] for r in last_of[:-1]], "each file links to the one before"
    verdict = verify(path, anchor_path(path))
    assert (verdict.records, verdict.intact) == (12, True)


def test_a_restarted_daemon_links_on_even_right_after_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_records(AuditLog(path, "queen-rbee", max_bytes=600), 4)
    last = json.loads(path.read_text().splitlines()[-1])["hash"]
    write_records(AuditLog(path, "queen-rbee", max_bytes=600), 1)  # a restart: no audit.break
    records = [json.loads(line) for f in [*rotated_files(path), path] for line in f.read_text().splitlines()]
    assert [r["action"] for r in records] == ["auth"] * 5
    assert records[4]["prev"] == last and verify(path, anchor_path(path)).intact


def test_a_missing_head_file_or_a_swapped_pair_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_records(AuditLog(path, "queen-rbee", max_bytes=600), 8)
    first, second = rotated_files(path)[:2]
    first_text, second_text = first.read_text(), second.read_text()
    first.write_text(second_text)
    second.write_text(first_text)
    assert "audit.jsonl.1, its record 1" in verify(path).why
    first.unlink()
    assert "its prev does not match" in verify(path).why


def test_a_record_that_cannot_be_written_is_counted_and_the_next_links_to_the_last_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, "queen-rbee")
    write_records(log, 2)
    failures = CURRENT.write_failures
    real_open = Path.open

    def full(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self == path and args and args[0] == "a":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", full)
    write_records(log, 3)
    monkeypatch.undo()
    assert CURRENT.write_failures == failures + 3
    write_records(log, 1)
    assert (verify(path, anchor_path(path)).records, verify(path, anchor_path(path)).intact) == (3, True)
