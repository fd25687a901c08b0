"""The SQLite model catalog: rebuilt from the files, and recovered when corrupt."""

import logging
from pathlib import Path

import pytest

from rbee.hive.models import ModelCatalog


@pytest.fixture()
def models(tmp_path: Path) -> Path:
    directory = tmp_path / "models"
    directory.mkdir()
    for name in ("a", "b"):
        (directory / f"{name}.gguf").write_bytes(b"GGUF" + name.encode())
    return directory


def test_the_catalog_lists_the_model_files_and_forgets_removed_ones(models: Path, tmp_path: Path) -> None:
    catalog = ModelCatalog([models], tmp_path / "c.sqlite")
    catalog.open()
    assert catalog.names() == ["a", "b"]
    (models / "b.gguf").unlink()
    catalog.rescan()
    assert catalog.names() == ["a"]
    assert catalog.path("a") == models / "a.gguf"
    assert catalog.path("../a") is None


def test_a_corrupt_catalog_is_moved_aside_and_rebuilt_at_open(models: Path, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "c.sqlite"
    db.write_bytes(b"garbage" * 1000)
    catalog = ModelCatalog([models], db)
    with caplog.at_level(logging.ERROR):
        catalog.open()
    assert catalog.names() == ["a", "b"]
    assert (tmp_path / "c.sqlite.corrupt.backup").read_bytes() == b"garbage" * 1000
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert catalog.recoveries == 1


def test_corruption_while_open_is_caught_by_the_next_query(models: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    catalog = ModelCatalog([models], db)
    catalog.open()
    db.write_bytes(b"garbage" * 1000)
    assert catalog.names() == ["a", "b"]
    assert catalog.recoveries == 1
    assert (tmp_path / "c.sqlite.corrupt.backup").exists()
