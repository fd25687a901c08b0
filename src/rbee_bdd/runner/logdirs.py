"""Where a scenario's daemon logs go, and how many earlier runs of it are kept.

``<reports>/logs/<feature file path>/<scenario slug>-<hash>/<run>/<node>.log``, with a ``latest``
link to the newest run. Each run of a scenario gets a folder of its own, so running a scenario
again never destroys the evidence of an earlier failure; the oldest runs beyond ``keep`` go.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

from rbee_bdd.core.identity import slug

KEEP_RUNS = 5


def scenario_folder(logs: Path, feature_file: str, scenario: str) -> Path:
    """The folder of every run of one scenario: the feature file's path, then the name with a stable hash."""
    feature = Path(os.path.relpath(feature_file))  # a part of a parallel run names it absolute
    parts = feature.with_suffix("").parts
    if parts and parts[0] == "features":
        parts = parts[1:]
    digest = hashlib.sha1(f"{feature}\0{scenario}".encode()).hexdigest()[:6]
    return logs.joinpath(*parts) / f"{slug(scenario, 80)}-{digest}"


def new_run(folder: Path, run: str, keep: int = KEEP_RUNS) -> Path:
    """A fresh folder *run* (names that sort in time order) for this run of the scenario, ``latest``
    pointing at it; only the newest *keep* runs are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())  # names sort by time
    for old in runs[: max(0, len(runs) - keep + 1)]:
        shutil.rmtree(old, ignore_errors=True)
    here = folder / run
    shutil.rmtree(here, ignore_errors=True)
    here.mkdir()
    latest = folder / "latest"
    with contextlib.suppress(FileNotFoundError):
        latest.unlink()
    os.symlink(run, latest)
    return here
