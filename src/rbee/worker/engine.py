"""The inference engine: a GGUF model loaded with llama.cpp, generating token by token."""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

GGUF_MAGIC = b"GGUF"


class ModelLoadError(Exception):
    """The model file could not be loaded."""


def check_model_file(path: Path) -> None:
    """Fail fast, before serving, on a model file that is missing, unreadable or not GGUF."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read model {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"model {path} is not a GGUF file")


@dataclass(frozen=True)
class Sampling:
    """What one completion asks for."""

    prompt: str
    max_tokens: int
    temperature: float
    seed: int


class Engine:
    """One loaded model; one generation at a time."""

    def __init__(self, model_path: Path, n_ctx: int, threads: int, use_mmap: bool) -> None:
        self.model_path = model_path
        self._n_ctx = n_ctx
        self._threads = threads
        self._use_mmap = use_mmap
        self._llama: object | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights (blocking); raises ModelLoadError with llama.cpp's reason."""
        from llama_cpp import Llama

        try:
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self._n_ctx,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                use_mmap=self._use_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {self.model_path.name}: {exc}") from None

    def generate(self, sampling: Sampling, cancelled: threading.Event) -> Generator[str, None, None]:
        """Yield the completion's tokens as text until max_tokens, end of sequence or cancel."""
        if self._llama is None:
            raise ModelLoadError("model not loaded")
        with self._lock:
            chunks = self._llama.create_completion(  # type: ignore[attr-defined]
                sampling.prompt,
                max_tokens=sampling.max_tokens,
                temperature=sampling.temperature,
                seed=sampling.seed,
                stream=True,
            )
            try:
                for chunk in chunks:
                    if cancelled.is_set():
                        return
                    text = chunk["choices"][0]["text"]
                    if text:
                        yield text
            finally:
                chunks.close()
