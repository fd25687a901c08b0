"""The GPU preflight: the GPU with the most free memory, refused when the model does not fit."""

from pathlib import Path

import pytest

from rbee.common.errors import RbeeError
from rbee.hive.gpu import GpuReading
from rbee.hive.placement import choose_gpu


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"\0" * (10 * 2**20))  # 10 MiB: needs 12 MiB with the margin
    return path


def test_the_gpu_with_most_free_memory_is_chosen(model: Path) -> None:
    assert choose_gpu("m", model, GpuReading(gpus=3, free_mb=[20.0, 500.0, 13.0])) == 1


def test_a_model_that_fits_nowhere_is_refused_with_the_figures(model: Path) -> None:
    with pytest.raises(RbeeError) as refused:
        choose_gpu("m", model, GpuReading(gpus=2, free_mb=[11.0, 5.0]))
    assert refused.value.code == "DEVICE_MEMORY_EXHAUSTED"
    assert "12.0 MiB" in refused.value.message and "11.0 MiB" in refused.value.message


def test_unreadable_gpus_are_refused_with_the_reason(model: Path) -> None:
    with pytest.raises(RbeeError) as refused:
        choose_gpu("m", model, GpuReading(status="nvidia-smi not found"))
    assert refused.value.code == "DEVICE_UNAVAILABLE"
    assert "nvidia-smi not found" in refused.value.message
