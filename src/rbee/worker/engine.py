"""The inference engine: a GGUF model loaded with llama.cpp, generating token by token."""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    top_p: float = 0.95  # llama.cpp's own default


INITIAL_CTX = 512  # a context grows from this, as jobs need, up to the model's own length
CTX_STEP = 256


class Engine:
    """One loaded model; one generation at a time.

    With *n_ctx* 0 the context (and its KV cache, the bulk of a worker's memory beside the
    weights) starts small and grows, by reloading, when a job needs more: prompt plus
    max_tokens, up to the model's own context length. With *n_ctx* > 0 it is fixed.
    """

    def __init__(self, model_path: Path, n_ctx: int, threads: int, use_mmap: bool) -> None:
        self.model_path = model_path
        self._fixed_ctx = n_ctx
        self._threads = threads
        self._use_mmap = use_mmap
        self._llama: Any = None  # llama_cpp.Llama, imported when loading
        self._lock = threading.Lock()
        self.n_ctx = 0
        self.max_ctx = 0

    def load(self) -> None:
        """Load the weights (blocking); raises ModelLoadError with llama.cpp's reason."""
        self._load(self._fixed_ctx or INITIAL_CTX)
        trained = int(self._llama.metadata.get("llama.context_length", self.n_ctx))
        self.max_ctx = self._fixed_ctx or max(trained, self.n_ctx)
        if not self._fixed_ctx and self.n_ctx > self.max_ctx:
            self._load(self.max_ctx)

    def _load(self, n_ctx: int) -> None:
        from llama_cpp import Llama

        self._llama = None  # the old context and weights go before the new ones are made
        try:
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                use_mmap=self._use_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not load {self.model_path.name}: {exc}") from None
        self.n_ctx = n_ctx

    def context_for(self, sampling: Sampling) -> int | None:
        """The larger context *sampling* needs, or None if the current one holds it."""
        if self._llama is None or self._fixed_ctx:
            return None
        prompt = len(self._llama.tokenize(sampling.prompt.encode()))
        needed = min(self.max_ctx, -(-(prompt + sampling.max_tokens) // CTX_STEP) * CTX_STEP)
        return needed if needed > self.n_ctx else None

    def grow_context(self, n_ctx: int) -> None:
        """Reload with a context of *n_ctx* tokens (blocking; allocates its KV cache)."""
        with self._lock:
            self._load(n_ctx)

    def generate(self, sampling: Sampling, cancelled: threading.Event) -> Generator[str, None, None]:
        """Yield the completion's tokens as text until max_tokens, end of sequence or cancel."""
        if self._llama is None:
            raise ModelLoadError("model not loaded")
        with self._lock:
            chunks = self._llama.create_completion(
                sampling.prompt,
                max_tokens=sampling.max_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
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
