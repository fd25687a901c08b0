"""The log scan after every scenario: what it finds, how it names it, what a scenario may declare."""

from pathlib import Path

from rbee_bdd.runner.log_scan import declared, scan

SECRET = "s3cr3t-token-of-the-scenario-0123456789"


def test_tracebacks_credentials_and_forbidden_phrases_are_found_with_their_place(tmp_path: Path) -> None:
    (tmp_path / "queen.log").write_text(f"INFO fine\nERROR Traceback (most recent call last):\nINFO token {SECRET}\n")
    (tmp_path / "hive-1.log").write_text("ERROR socket.accept() out of system resource: Too many open files\n")
    (tmp_path / "notes.txt").write_text("Traceback (most recent call last)\n")  # not a daemon log
    found = scan(tmp_path, ["", SECRET])
    assert found == [f"{tmp_path}/hive-1.log:1: files-exhausted: ERROR socket.accept() out of system resource: "
                     "Too many open files",
                     f"{tmp_path}/queen.log:2: traceback: ERROR Traceback (most recent call last):",
                     f"{tmp_path}/queen.log:3: credential #2 of the scenario"]
    assert all(SECRET not in line for line in found)


def test_a_declared_kind_is_not_looked_for_and_a_clean_log_passes(tmp_path: Path) -> None:
    (tmp_path / "queen.log").write_text("ERROR Traceback (most recent call last):\nINFO fine\n")
    assert scan(tmp_path, [], declared({"integration", "log.traceback"})) == []
    (tmp_path / "queen.log").write_text("INFO fine\nWARNING also fine\n")
    assert scan(tmp_path, [SECRET]) == []
