"""The hive's model catalog: the GGUF files in its model directory, by name."""

from __future__ import annotations

from pathlib import Path


class ModelCatalog:
    """Models are ``<dir>/<name>.gguf``; the directory is read on every query."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.model_dir.glob("*.gguf") if p.is_file())

    def path(self, name: str) -> Path | None:
        candidate = self.model_dir / f"{name}.gguf"
        if "/" in name or name.startswith(".") or not candidate.is_file():
            return None
        return candidate
