"""The inference engine: a GGUF model loaded with llama.cpp, generating token by token."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable, Generator
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
READ_CHUNK = 4 * 2**20  # bytes of the model file read at a time while its loading is narrated
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
        self.finish = ""  # why the last generation ended: length, stop (end of sequence) or cancelled

    def read_weights(self, progress: Callable[[int, int, int], None]) -> None:
        """Read the model file once from start to end (into the page cache, where llama.cpp then finds
        it), calling *progress(percent, read, size)* as 25, 50, 75 and 100 % of its bytes are read."""
        size = self.model_path.stat().st_size
        done, told = 0, 0
        with self.model_path.open("rb", buffering=0) as weights:
            while chunk := weights.read(READ_CHUNK):
                done += len(chunk)
                while told < 100 and done * 100 >= (told + 25) * size:
                    told += 25
                    progress(told, done, size)
        if told < 100:  # an empty file
            progress(100, done, size)

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
        """Yield one text per generated token, in order, until max_tokens, the end of the sequence, the
        end of the context or a cancel; ``finish`` then says which (``length``, ``stop``, ``context``
        or ``cancelled``). A prompt that fills the context on its own raises ValueError.

        A token whose bytes complete no character yet (a byte-fallback piece of a multi-byte
        character), or a control token, yields "": its bytes come with a later token's text. So a
        job the model does not end yields exactly max_tokens items, and their concatenation is the
        completion. (llama.cpp's own streaming merges such tokens, and its callers then see fewer.)
        """
        from llama_cpp import llama_vocab_is_eog

        llama = self._llama
        if llama is None:
            raise ModelLoadError("model not loaded")
        with self._lock:
            self.finish = "cancelled"
            bos = llama.token_bos()
            prompt = ([bos] if bos != -1 and llama._model.add_bos_token() else []) + \
                llama.tokenize(sampling.prompt.encode("utf-8"), add_bos=False, special=True)
            room = self.n_ctx - len(prompt)  # tokens the context still holds after the prompt
            if room <= 0:
                raise ValueError(f"the prompt's {len(prompt)} tokens exceed the context of {self.n_ctx}")
            limit = min(sampling.max_tokens, room)
            llama.set_seed(sampling.seed)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            generated: list[int] = []
            tokens = llama.generate(prompt, top_k=40, top_p=sampling.top_p, min_p=0.05, temp=sampling.temperature,
                                    repeat_penalty=1.0)
            try:
                for token in tokens:
                    if cancelled.is_set():
                        return
                    if llama_vocab_is_eog(llama._model.vocab, token):
                        self.finish = "stop"
                        return
                    text = decoder.decode(llama.detokenize([token], prev_tokens=prompt + generated))
                    generated.append(token)
                    yield text
                    if len(generated) >= limit:
                        self.finish = "length" if limit == sampling.max_tokens else "context"
                        return
            finally:
                tokens.close()
