"""The chaos timeline: faults paired with their heals, jobs placed by start and latency, a PNG written."""

from pathlib import Path

from rbee_bdd.faults.chaos.picture import Band, Point, draw, fault_bands, job_points

HISTORY = [
    {"t": 1.0, "type": "invoke", "op": 1}, {"t": 1.1, "type": "accepted", "op": 1, "job_id": "j1"},
    {"t": 2.0, "type": "fault", "name": "pause-hive", "node": "hive-1"},
    {"t": 3.0, "type": "invoke", "op": 2}, {"t": 3.1, "type": "refused", "op": 2, "status": 503, "code": "X"},
    {"t": 3.5, "type": "end", "op": 1, "marker": "[ERROR] WORKER_CRASHED: gone", "via": "stream"},
    {"t": 4.0, "type": "heal", "name": "pause-hive"},
    {"t": 5.0, "type": "fault", "name": "kill-worker", "node": "hive-2"},
    {"t": 6.0, "type": "invoke", "op": 3},
]


def test_faults_pair_with_their_heals_and_an_unhealed_one_lasts_to_the_end() -> None:
    assert fault_bands(HISTORY) == [Band("hive-1", "pause-hive", 2.0, 4.0), Band("hive-2", "kill-worker", 5.0, 6.0)]


def test_jobs_are_placed_by_start_and_latency_and_coloured_by_their_end() -> None:
    assert job_points(HISTORY) == [Point(1.0, 2.5, "[ERROR]"), Point(3.0, 0.10000000000000009, "refused"),
                                   Point(6.0, None, "no end")]


def test_the_picture_is_a_png(tmp_path: Path) -> None:
    path = draw(HISTORY, tmp_path / "timeline.png", "a test run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
