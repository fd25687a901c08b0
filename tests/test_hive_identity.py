"""One hive id, one hive: queen's registry refuses a second live instance; a hive keeps its instance id."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rbee.hive.instance import FILE, instance_id
from rbee.queen.registry import HiveHeartbeat, HiveIdConflict, Registry


def beat(instance: str, url: str = "http://10.0.0.1:7835") -> HiveHeartbeat:
    return HiveHeartbeat(hive_id="hive-1", instance_id=instance, url=url)


def test_a_second_live_instance_is_refused_and_changes_nothing() -> None:
    registry = Registry(stale_after_s=3, remove_after_s=6)
    registry.record(beat("a" * 16))
    with pytest.raises(HiveIdConflict, match="hive id hive-1 is held by another live hive"):
        registry.record(beat("b" * 16, "http://10.0.0.2:7835"))
    assert [h["url"] for h in registry.hives()] == ["http://10.0.0.1:7835"]
    registry.record(beat("a" * 16))  # the holder itself goes on
    registry.record(beat(""))  # a hive that tells no instance id (older) is taken as before


def test_the_id_is_taken_over_only_past_the_staleness_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    registry = Registry(stale_after_s=3, remove_after_s=6)
    registry.record(beat("a" * 16))
    now[0] += 3.0  # at the bound: still live
    with pytest.raises(HiveIdConflict):
        registry.record(beat("b" * 16, "http://10.0.0.2:7835"))
    now[0] += 0.01  # just past it
    registry.record(beat("b" * 16, "http://10.0.0.2:7835"))
    assert [h["url"] for h in registry.hives()] == ["http://10.0.0.2:7835"]


def test_a_hive_keeps_its_instance_id_across_restarts_and_makes_one_where_none_is_kept(tmp_path: Path) -> None:
    first = instance_id(tmp_path / "state")
    assert len(first) == 16 and instance_id(tmp_path / "state") == first
    (tmp_path / "state" / FILE).write_text("not an id\n")
    assert instance_id(tmp_path / "state") not in ("not an id", first)
    assert instance_id(tmp_path / "other") != first


def test_idle_workers_are_taken_from_each_hive_in_turn_when_every_job_ends_before_the_next() -> None:
    registry = Registry(stale_after_s=3, remove_after_s=6)
    for hive in ("hive-1", "hive-2"):
        registry.record(HiveHeartbeat(hive_id=hive, url=f"http://{hive}:7835", protocol="1.1", models=["m"],
                                      workers=[{"worker_id": f"{hive}-w", "model": "m", "state": "ready", "port": 1}]))
    given = []
    for _ in range(4):  # each job ends (its worker released) before the next is placed
        worker = registry.reserve_idle("m")
        assert worker is not None
        given.append(worker["hive_id"])
        registry.release(worker["worker_id"])
    assert given == ["hive-1", "hive-2", "hive-1", "hive-2"]
