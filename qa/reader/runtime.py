"""The trained reader at run time: exported once to ONNX (in the user cache), checked against torch, run by
onnxruntime. Torch is imported only for that one export; answering needs onnxruntime and tokenizers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.errors import ConfigError
from qa.index.embeddings import bundled_model_path, onnx_cache_dir
from qa.ingest.chunking import split_sentences
from qa.offline import onnxruntime_offline
from qa.reader.decode import PassageReading, read
from qa.reader.features import Window, batch_arrays, load_tokenizer, windows
from qa.reader.weights import WEIGHTS_DIR, delta_files

log = logging.getLogger(__name__)

_EXPORT_VERSION = 1  # bump when the exported graph changes
_PROBE = (
    "How many F-16s is the Netherlands sending?",
    "The Netherlands will send 18 F-16 fighter jets to Ukraine, the Dutch defence minister said on Friday. "
    "Norway pledged two more.",
)
MAX_DIFFERENCE = 1e-3  # largest logit difference between the export and torch on the probe
# int8 weights read about 1.5x faster on 2 cores; their sentence probabilities on the probe stay this close.
MAX_INT8_DIFFERENCE = 0.05
BATCH = 16
RECENT_READINGS = 2048


class Reader(Protocol):
    """Reads passages for a question: which sentences answer it, where the short answer is, how sure it is."""

    name: str

    def read(self, question: str, texts: Sequence[str]) -> list[PassageReading]:
        """One reading per text, in order."""
        ...


def _export_key(weights: Path, base: Path) -> str:
    onnxruntime = onnxruntime_offline()
    digest = hashlib.sha256(f"{_EXPORT_VERSION} {onnxruntime.__version__}".encode())
    for file in delta_files(weights):
        digest.update(file.name.encode() + file.read_bytes())
    for file in sorted(base.rglob("*")):
        if file.is_file() and not file.name.startswith("."):
            stat = file.stat()
            digest.update(f"{file.relative_to(base)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _export(weights: Path, base: Path, target: Path) -> None:
    """Merge the adapter into the base, export to `target` atomically, and check it against torch."""
    import torch

    from qa.reader.weights import load_torch_reader

    model = load_torch_reader(weights)
    probe = windows(load_tokenizer(str(base)), *_PROBE)
    arrays = batch_arrays(probe)
    inputs = tuple(torch.from_numpy(arrays[n]) for n in ("input_ids", "attention_mask", "token_type_ids"))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".onnx")
    os.close(handle)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = model(*inputs).numpy()
            torch.onnx.export(
                model,
                inputs,
                temporary,
                input_names=names,
                output_names=["logits"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logits": {0: "batch", 1: "tokens"}},
                opset_version=17,
                dynamo=False,
            )
        got = _session(Path(temporary)).run(None, arrays)[0]
        worst = float(np.max(np.abs(got - expected)))
        if worst > MAX_DIFFERENCE:
            raise RuntimeError(f"the export reads unlike torch (largest logit difference {worst:.5f})")
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _quantise(exported: Path, target: Path) -> None:
    """int8 weights (onnxruntime's dynamic quantisation) from the checked fp32 export, checked against it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.reader.decode import sigmoid
    from qa.reader.network import SENTENCE

    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".int8-", suffix=".onnx")
    os.close(handle)
    try:
        logging.getLogger().disabled, was = True, logging.getLogger().disabled  # its advice to pre-process
        try:
            quantize_dynamic(str(exported), temporary, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.getLogger().disabled = was
        arrays = batch_arrays(windows(load_tokenizer(str(bundled_model_path())), *_PROBE))
        full = _session(exported).run(None, arrays)[0][..., SENTENCE]
        small = _session(Path(temporary)).run(None, arrays)[0][..., SENTENCE]
        worst = float(np.max(np.abs(sigmoid(full) - sigmoid(small))))
        if worst > MAX_INT8_DIFFERENCE:
            raise RuntimeError(f"the int8 reader reads unlike the fp32 one (sentence probability off by {worst:.3f})")
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _session(path: Path) -> Any:
    onnxruntime = onnxruntime_offline()
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxReader:
    """The project's trained reader (qa/reader/weights), run by onnxruntime; loaded on first use."""

    name = "trained-minilm"

    def __init__(self, weights: Path = WEIGHTS_DIR, precision: str = "fp32") -> None:
        if precision not in ("int8", "fp32"):
            raise ConfigError(f"QA_READER_PRECISION must be 'int8' or 'fp32', got {precision!r}")
        self.weights = weights
        self.precision = precision
        self.base = bundled_model_path()
        missing = [f.name for f in delta_files(weights) if not f.is_file()]
        if missing:
            raise ConfigError(
                f"The reader's weights in {weights} lack {', '.join(missing)}; reinstall the package or rebuild "
                "them with `make train-reader`"
            )
        self._session: Any = None
        self._lock = threading.Lock()
        # Reranking, evidence and multiple choice read the same passages for one question: read each once.
        self._recent: OrderedDict[tuple[str, str], PassageReading] = OrderedDict()

    def _ready(self) -> Any:
        with self._lock:
            if self._session is None:
                folder = onnx_cache_dir() / f"reader-{_export_key(self.weights, self.base)}"
                exported = folder / "model.onnx"
                if not exported.is_file():
                    log.info("Exporting the reader to ONNX at %s (once)", exported)
                    _export(self.weights, self.base, exported)
                target = exported
                if self.precision == "int8":
                    target = folder / "model-int8.onnx"
                    if not target.is_file():
                        _quantise(exported, target)
                self._session = _session(target)
            return self._session

    def read(self, question: str, texts: Sequence[str]) -> list[PassageReading]:
        with self._lock:
            known = {t: self._recent[(question, t)] for t in texts if (question, t) in self._recent}
        fresh = list(dict.fromkeys(t for t in texts if t not in known))
        if fresh:
            for text, reading in zip(fresh, self._read(question, fresh)):
                known[text] = reading
            with self._lock:
                for text in fresh:
                    self._recent[(question, text)] = known[text]
                while len(self._recent) > RECENT_READINGS:
                    self._recent.popitem(last=False)
        return [known[t] for t in texts]

    def _read(self, question: str, texts: Sequence[str]) -> list[PassageReading]:
        session = self._ready()
        tokenizer = load_tokenizer(str(self.base))
        per_text = [windows(tokenizer, question, text) for text in texts]
        flat: list[tuple[int, Window]] = [(k, w) for k, ws in enumerate(per_text) for w in ws]
        logits: list[list[np.ndarray]] = [[] for _ in texts]
        # Windows of similar length share a batch, so padding costs little.
        order = sorted(range(len(flat)), key=lambda i: len(flat[i][1].ids))
        results: dict[int, np.ndarray] = {}
        for at in range(0, len(order), BATCH):
            rows = order[at : at + BATCH]
            out = session.run(None, batch_arrays([flat[i][1] for i in rows]))[0]
            for row, i in enumerate(rows):
                results[i] = out[row, : len(flat[i][1].ids)]
        for i, (k, _) in enumerate(flat):
            logits[k].append(results[i])
        return [read(ws, outs, split_sentences(text)) for ws, outs, text in zip(per_text, logits, texts)]


_SHARED: dict[tuple[Path, str], OnnxReader] = {}
_SHARED_LOCK = threading.Lock()


def shared_reader(weights: Path = WEIGHTS_DIR, precision: str = "fp32") -> OnnxReader:
    """One reader per process for the shipped weights: the UI, CLI and evals share its session and memory."""
    with _SHARED_LOCK:
        if (weights, precision) not in _SHARED:
            _SHARED[(weights, precision)] = OnnxReader(weights, precision)
        return _SHARED[(weights, precision)]
