"""The image step never builds over an image it does not own (a user's own build under a tag)."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from rbee_bdd.host.engine import EngineUnavailable, connect

ROOT = Path(__file__).resolve().parents[1]
BUILD_IMAGE = ROOT / "fixtures" / "docker" / "build_image.py"


def load_build_image():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_image", BUILD_IMAGE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_builds_only_what_it_owns() -> None:
    build_image = load_build_image()
    assert build_image.plan(None, "abc") == "build"
    assert build_image.plan({build_image.HASH_LABEL: "abc"}, "abc") == "up-to-date"
    assert build_image.plan({build_image.HASH_LABEL: "old"}, "abc") == "build"
    with pytest.raises(build_image.ForeignImage):
        build_image.plan({"org.example.built-by": "a user"}, "abc")
    with pytest.raises(build_image.ForeignImage):
        build_image.plan({}, "abc")


@pytest.fixture
def foreign_image() -> Iterator[str]:
    """A user's image on the engine: a one-file rootfs, no label of this project."""
    try:
        client = connect()
    except EngineUnavailable as exc:
        pytest.skip(f"needs a Docker engine: {exc}")
    name = f"rbee-bdd-test-own-build:{uuid.uuid4().hex[:8]}"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        data = b"a user's build\n"
        info = tarfile.TarInfo("etc/own-build")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repository, tag = name.split(":")
    client.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    try:
        yield name
    finally:
        client.images.remove(name, force=True)


def test_a_foreign_image_is_never_rebuilt_or_replaced(foreign_image: str, tmp_path: Path) -> None:
    client = connect()
    before = client.images.get(foreign_image).id
    done = subprocess.run([sys.executable, str(BUILD_IMAGE), "--image", foreign_image, "--wheel-cache",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert f"{foreign_image} exists and it was not built by this project" in done.stderr
    assert client.images.get(foreign_image).id == before, "the user's image is unchanged"


def test_make_uses_a_named_image_as_it_is_and_says_when_it_is_missing(foreign_image: str) -> None:
    client = connect()
    before = client.images.get(foreign_image).id
    used = subprocess.run(["make", "--no-print-directory", "stack-image", f"IMAGE={foreign_image}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert used.returncode == 0, used.stdout + used.stderr
    assert f"using your image {foreign_image} as it is" in used.stdout
    assert client.images.get(foreign_image).id == before
    missing = foreign_image + "-missing"
    refused = subprocess.run(["make", "--no-print-directory", "stack-image", f"IMAGE={missing}"], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert f"image '{missing}' is not on the engine" in refused.stderr
    assert "make image" not in refused.stderr
