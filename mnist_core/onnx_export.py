"""Models that run anywhere: each run as an ONNX file, for browsers (ONNX Runtime Web) and other runtimes.

An exported model takes float32 pixels ``[N, 1, 28, 28]`` in [0, 1] — a white digit on black, as
MNIST and :func:`mnist_core.preprocess.prepare_digit` give them — and returns ``[N, 10]``
probabilities: MNIST's normalisation and the softmax are inside the graph, so a caller does
neither (the tutorials' bug of normalising twice cannot happen there).

``export_onnx`` writes ``<folder>/<model key>.onnx`` per run and ``<folder>/manifest.json``
describing them (key, name, colour, run, accuracy, file, its SHA-256 and size, how its weights
are stored); each file is written to a temporary name, then renamed, so a crash leaves no
half-written model. ONNX Runtime is imported only to check a file (:func:`check_onnx`) or to
store weights as int8 (``onnxruntime.quantization``), which is done only where the answers on
the test images show it costs no accuracy (:data:`MAX_INT8_ACCURACY_DROP`).

That check runs 10,000 test images through PyTorch and ONNX Runtime (10-30 s for three models), so a
shipped checkpoint carries its result (``<run>/int8_check.json``, made by ``make int8-checks``: the
weights' and the int8 file's SHA-256 beside what the check measured), and an export reads it instead of
checking again; a changed checkpoint or int8 file matches no stored result and is checked anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import cache as read_once
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data import MNIST_MEAN, MNIST_STD
from .fileio import write_atomically
from .models import MODELS
from .runs import RunInfo, load_model

if TYPE_CHECKING:
    from torch import nn

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "mnist-dashboard-onnx"
INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"
# Opset 17: every operator these models use, and read by ONNX Runtime (Python and Web) releases of
# the last years.
OPSET = 17
_READABLE = 0o644  # files to hand on (a web server, another machine), not mkstemp's owner-only 0o600
MAX_INT8_ACCURACY_DROP = 0.0005  # 0.05 points, 5 of the 10,000 test images: int8 weights costing more are refused
# (the model is then stored as float16, whose answers on the test set are all PyTorch's)
_QUANTIZED_OPS = ["MatMul", "Gemm"]  # the fully connected layers: 93-99 % of the three models' weights but
# LeNet-5's (its 5x5 convolution to 120 channels). Convolutions stay float16: ConvInteger would add error for
# a few kB (LeNet-5: 4 of 10,000 answers changed with it, none without).
INT8_CHECK_FILE = "int8_check.json"  # beside a run: its int8 check, stored with the shipped checkpoints
_INT8_CHECK_FORMAT = "mnist-dashboard-int8-check"
_MAX_INT8_CHECK_BYTES = 10_000  # the record is about 400 bytes
_log = logging.getLogger(__name__)


class OnnxExportError(ValueError):
    """A model could not be exported or its file does not hold a usable model; the message says why."""


@dataclass(frozen=True)
class Int8Check:
    """What int8 weights did to a model's answers on the test images, against PyTorch's float32 ones."""

    images: int
    differing: int  # test images whose answer is not PyTorch's
    accuracy: float  # with int8 weights, [0, 1]
    torch_accuracy: float  # PyTorch's on the same images
    refused: str | None  # why the model is stored as float16 instead; None: stored as int8
    checked_sha256: str | None = None  # the int8 file checked (a manifest written before this field has none)


@dataclass(frozen=True)
class ExportedModel:
    """One exported model, as the manifest lists it."""

    key: str  # a key of MODELS
    name: str
    colour: str
    run: str  # the run folder's name
    accuracy: float  # the run's test accuracy, [0, 1]
    file: str  # the file's name inside the export folder
    sha256: str
    bytes: int
    weights: str = "float32"  # how the file stores its weights: "float32", "float16" or "int8" (a manifest
    # written before this field held float32 or float16 weights; the field's default reads it)
    int8: Int8Check | None = None  # the int8 check when int8 was tried (kept whether or not it was refused)


TestSet = tuple[np.ndarray, np.ndarray]  # images (N, 28, 28) in [0, 1] and their labels (N,)


def export_onnx(runs: Mapping[str, RunInfo], folder: str | os.PathLike, half: bool = False,
                int8_on: TestSet | Callable[[], TestSet | None] | None = None,
                stored: bool = True) -> list[ExportedModel]:
    """Write each run of ``runs`` (model key → run) as ``<folder>/<key>.onnx``, then the manifest.

    ``half``: store the weights as float16 (half the download), turned back into float32 inside the graph,
    so the computation and the model's inputs and outputs stay float32.

    ``int8_on``: test images ``(N, 28, 28)`` in [0, 1] and their labels ``(N,)``: store each model's fully
    connected weights as int8 (a quarter of float32; ``onnxruntime.quantization``'s dynamic quantization), the
    rest as float16, where the model's accuracy on these images drops by at most :data:`MAX_INT8_ACCURACY_DROP`;
    a model that loses more is refused int8 and stored as float16 (its ``int8`` check says why). Or a function
    that gives them, called only if a model's check is not stored beside its run; where it gives None (no test set
    here), such a model is stored as float16, unchecked (``int8`` None).

    ``stored``: use a model's check stored beside its run (:data:`INT8_CHECK_FILE`) when it was made on these
    weights and this int8 file; False: check every model anew.

    Raises:
        OnnxExportError: a model could not be exported, or the folder cannot be written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OnnxExportError(f"cannot create {folder}: {error.strerror or error}") from None
    test_set = None if int8_on is None else read_once(int8_on if callable(int8_on) else lambda: int8_on)
    exported = [_export_one(key, run, folder, half, test_set, stored) for key, run in runs.items()]
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "input": {"name": INPUT_NAME, "shape": ["N", 1, 28, 28],
                "range": [0, 1], "note": "white digit on black, as MNIST; normalised inside the model"},
                "output": {"name": OUTPUT_NAME, "shape": ["N", 10]},
                "models": [asdict(model) for model in exported]}
    _write_atomically(folder / MANIFEST_FILE, json.dumps(manifest, indent=2).encode())
    return exported


def read_manifest(folder: str | os.PathLike) -> list[ExportedModel]:
    """The models listed in ``<folder>/manifest.json``, each file there with its recorded checksum.

    Raises:
        OnnxExportError: no manifest, a damaged one, or a listed file missing or changed.
    """
    folder = Path(folder)
    models = _listed(folder)
    for model in models:
        path = folder / model.file
        if Path(model.file).name != model.file or not path.is_file():
            raise OnnxExportError(f"{path} is missing: export the models again")
        if _sha256(path.read_bytes()) != model.sha256:
            raise OnnxExportError(f"{path} has changed since it was exported (checksum): export the models again")
    return models


def verified_file(folder: str | os.PathLike, name: str) -> tuple[bytes, str]:
    """The bytes of ``<folder>/<name>``, a file the folder's manifest lists, and their SHA-256, which is the
    manifest's (read once: what is checked is what is returned).

    Raises:
        OnnxExportError: no manifest or a damaged one, a file it does not list, or one missing or changed since.
    """
    folder = Path(folder)
    model = {model.file: model for model in _listed(folder)}.get(name)
    if model is None or Path(name).name != name:
        raise OnnxExportError(f"{folder / MANIFEST_FILE} lists no {name}: export the models again")
    try:
        data = (folder / name).read_bytes()
    except OSError as error:
        raise OnnxExportError(f"cannot read {folder / name}: {error.strerror or error}") from None
    digest = _sha256(data)
    if digest != model.sha256:
        raise OnnxExportError(f"{folder / name} has changed since it was exported (checksum): export the models again")
    return data, digest


def _listed(folder: Path) -> list[ExportedModel]:
    """The models ``<folder>/manifest.json`` lists, as it lists them (their files unchecked)."""
    try:
        record = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        return [ExportedModel(**{**entry, "int8": Int8Check(**entry["int8"]) if entry.get("int8") else None})
                for entry in record["models"]]
    except FileNotFoundError:
        raise OnnxExportError(f"{folder} holds no {MANIFEST_FILE}: export the models with "
                              f"python -m mnist_core export --onnx {folder}") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OnnxExportError(f"{folder / MANIFEST_FILE} is damaged ({error}): export the models again") from None


def check_onnx(path: str | os.PathLike, model: nn.Module, pixels: np.ndarray,
               batch: int = 1000) -> tuple[float, np.ndarray]:
    """Run the ONNX file at ``path`` on ``pixels`` ``(N, 28, 28)`` in [0, 1] with ONNX Runtime, and the
    PyTorch ``model`` on the same digits; return the largest difference of their probabilities and the
    ONNX model's answers ``(N,)``."""
    largest, answers, _ = compare_onnx(path, model, pixels, batch)
    return largest, answers


def compare_onnx(path: str | os.PathLike, model: nn.Module, pixels: np.ndarray,
                 batch: int = 1000) -> tuple[float, np.ndarray, np.ndarray]:
    """As :func:`check_onnx`, and PyTorch's answers ``(N,)`` too: (largest difference, ONNX's, PyTorch's)."""
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    largest, answers, torch_answers = 0.0, [], []
    model.eval()
    for start in range(0, len(pixels), batch):
        part = np.asarray(pixels[start : start + batch], dtype=np.float32)[:, None]
        onnx_probabilities = session.run([OUTPUT_NAME], {INPUT_NAME: part})[0]
        with torch.no_grad():
            torch_probabilities = torch.softmax(model((torch.from_numpy(part) - MNIST_MEAN) / MNIST_STD), 1).numpy()
        largest = max(largest, float(np.abs(onnx_probabilities - torch_probabilities).max()))
        answers.append(onnx_probabilities.argmax(axis=1))
        torch_answers.append(torch_probabilities.argmax(axis=1))
    if not answers:
        return largest, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return largest, np.concatenate(answers), np.concatenate(torch_answers)


def _export_one(key: str, run: RunInfo, folder: Path, half: bool = False,
                int8_on: Callable[[], TestSet | None] | None = None, stored: bool = True) -> ExportedModel:
    import torch

    network = load_model(run)
    wrapped = _pixels_to_probabilities(network).eval()
    target = folder / f"{key}.onnx"
    handle, temporary = tempfile.mkstemp(prefix=f".{key}-", suffix=".onnx.tmp", dir=folder)
    os.close(handle)
    os.chmod(temporary, _READABLE)
    try:
        with warnings.catch_warnings():
            # The TorchScript-based exporter (dynamo=False) is deprecated in favour of the dynamo one, which
            # needs onnxscript besides; for these small convolution-and-linear graphs both give the same model.
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapped, (torch.zeros(1, 1, 28, 28),), temporary, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], opset_version=OPSET, dynamo=False,
                              dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}})
        check, weights = None, "float16" if half else "float32"
        if int8_on is not None:
            check = _weights_as_int8(temporary, run, network, int8_on, stored)
            weights = "int8" if check is not None and check.refused is None else "float16"
            if check is not None and check.refused is not None:
                _log.warning("%s: int8 weights refused (%s); stored as float16", MODELS[key].name, check.refused)
        if weights == "float16":
            _weights_as_float16(temporary)
        data = Path(temporary).read_bytes()
        os.replace(temporary, target)
    except OSError as error:
        raise OnnxExportError(f"cannot write {target}: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001  (the exporter fails in many ways; say which model)
        raise OnnxExportError(f"{run.path}: the {MODELS[key].name} model could not be exported to ONNX ({error})") \
            from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    spec = MODELS[key]
    return ExportedModel(key=key, name=spec.name, colour=spec.color, run=run.run_id, accuracy=run.accuracy,
                         file=target.name, sha256=_sha256(data), bytes=len(data), weights=weights, int8=check)


def _pixels_to_probabilities(model: nn.Module) -> nn.Module:
    """``model`` wrapped so that the exported graph reads pixels in [0, 1] and gives probabilities."""
    import torch
    from torch import nn

    class PixelsToProbabilities(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.model((pixels - MNIST_MEAN) / MNIST_STD), dim=1)

    return PixelsToProbabilities()


def _weights_as_int8(path: str, run: RunInfo, network: nn.Module, test_set: Callable[[], TestSet | None],
                     stored: bool = True) -> Int8Check | None:
    """Rewrite the float32 ONNX file at ``path`` with its fully connected weights as int8 and the rest as
    float16, if its answers on the test set keep PyTorch's accuracy (:data:`MAX_INT8_ACCURACY_DROP`; ``stored``:
    as the check stored beside ``run`` says, when it was made on this very file); else leave it as it is. What
    the int8 weights did, either way; None where no check is stored and ``test_set`` gives none."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = f"{path}.int8"
    try:
        float_weights = {initializer.name for initializer in onnx.load(path).graph.initializer}
        quiet = _QuantizerWarnings()  # its advice to pre-process the graph, logged on the root logger
        logging.getLogger().addFilter(quiet)
        try:
            # Per tensor (one scale per weight matrix): per channel changed as many answers and compressed worse
            quantize_dynamic(path, quantized, op_types_to_quantize=_QUANTIZED_OPS, weight_type=QuantType.QInt8)
        finally:
            logging.getLogger().removeFilter(quiet)
        # The weights left float (convolutions, biases) as float16; the quantizer's own scales stay float32.
        _weights_as_float16(quantized, only=float_weights)
        checked_sha256 = _sha256(Path(quantized).read_bytes())
        check = read_int8_check(run, checked_sha256) if stored else None
        if check is None:
            pixels_and_labels = test_set()
            if pixels_and_labels is None:
                return None
            pixels, labels = pixels_and_labels
            _, answers, torch_answers = compare_onnx(quantized, network, pixels)
            accuracy, torch_accuracy = float((answers == labels).mean()), float((torch_answers == labels).mean())
            check = _int8_check(len(labels), int((answers != torch_answers).sum()), accuracy, torch_accuracy,
                                checked_sha256)
        if check.refused is None:
            os.replace(quantized, path)
        return check
    finally:
        if os.path.exists(quantized):
            os.unlink(quantized)


class _QuantizerWarnings(logging.Filter):
    """Drops what ``onnxruntime.quantization`` logs below ERROR on the root logger (``logging.warning``), nothing
    else: a filter for the quantizer's call, not the root's level, which every thread of a server shares (two
    exports at once would leave it raised)."""

    PACKAGE = os.sep + os.path.join("onnxruntime", "quantization") + os.sep  # in the path of its source files

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or self.PACKAGE not in record.pathname


def _int8_check(images: int, differing: int, accuracy: float, torch_accuracy: float,
                checked_sha256: str | None) -> Int8Check:
    """A check's measurements, and whether they refuse int8 (decided here, so a stored check obeys today's limit)."""
    drop = torch_accuracy - accuracy
    refused = None
    if drop > MAX_INT8_ACCURACY_DROP + 1e-12:
        refused = (f"int8 weights cost {100 * drop:.2f} points of accuracy on the {images:,} test images "
                   f"(at most {100 * MAX_INT8_ACCURACY_DROP:.2f} allowed)")
    return Int8Check(images=images, differing=differing, accuracy=round(accuracy, 6),
                     torch_accuracy=round(torch_accuracy, 6), refused=refused, checked_sha256=checked_sha256)


def read_int8_check(run: RunInfo, checked_sha256: str) -> Int8Check | None:
    """The int8 check stored beside ``run`` (:data:`INT8_CHECK_FILE`), if it was made on the run's weights and on
    the int8 file of SHA-256 ``checked_sha256``; else None (none stored, another checkpoint's, or damaged)."""
    try:
        with open(Path(run.path) / INT8_CHECK_FILE, "rb") as handle:
            record = json.loads(handle.read(_MAX_INT8_CHECK_BYTES + 1))
        if record.get("format") != _INT8_CHECK_FORMAT or record.get("weights_sha256") != run.weights_sha256 \
                or record.get("checked_sha256") != checked_sha256:
            return None
        images, differing = record["images"], record["differing"]
        accuracy, torch_accuracy = record["accuracy"], record["torch_accuracy"]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (images, differing)) or images <= 0 \
                or not 0 <= differing <= images \
                or not all(isinstance(f, int | float) and 0 <= f <= 1 for f in (accuracy, torch_accuracy)):
            return None
    except (OSError, ValueError, RecursionError, AttributeError, KeyError, TypeError):
        return None
    return _int8_check(images, differing, float(accuracy), float(torch_accuracy), checked_sha256)


def write_int8_check(run: RunInfo, check: Int8Check) -> Path:
    """Store ``check`` (made on ``run``'s weights) beside the run, where :func:`read_int8_check` finds it."""
    if check.checked_sha256 is None:
        raise OnnxExportError(f"{run.path}: this int8 check does not name the file it checked: check it again")
    record = {"format": _INT8_CHECK_FORMAT, "version": 1, "weights_sha256": run.weights_sha256,
              "checked_sha256": check.checked_sha256, "images": check.images, "differing": check.differing,
              "accuracy": check.accuracy, "torch_accuracy": check.torch_accuracy}
    path = Path(run.path) / INT8_CHECK_FILE
    _write_atomically(path, (json.dumps(record, indent=1) + "\n").encode())
    return path


def _weights_as_float16(path: str, only: set[str] | None = None) -> None:
    """Rewrite the ONNX file at ``path`` with its float32 weights (``only``: those of these names) stored as
    float16, each cast back to float32 by a Cast node at the graph's start."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    graph = model.graph
    casts, initializers = [], []
    for initializer in graph.initializer:
        if initializer.data_type != TensorProto.FLOAT or (only is not None and initializer.name not in only):
            initializers.append(initializer)
            continue
        stored = f"{initializer.name}.float16"
        initializers.append(numpy_helper.from_array(numpy_helper.to_array(initializer).astype(np.float16), stored))
        casts.append(helper.make_node("Cast", [stored], [initializer.name], to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        write_atomically(path, data, mode=_READABLE)
    except OSError as error:
        raise OnnxExportError(f"cannot write {path}: {error.strerror or error}") from None


def exported_runs(runs: Mapping[str, RunInfo], cache: str | os.PathLike, half: bool = False,
                  int8_on: Callable[[], TestSet | None] | None = None) -> tuple[Path, list[ExportedModel]]:
    """The ONNX files of ``runs`` (``half``: float16 weights; ``int8_on``: int8 where a check stored beside a run
    or the test images it gives allow, see :func:`export_onnx`; called only when a model must be checked), exported
    once into ``<cache>/onnx/<fingerprint>/`` and reused while the runs' weights stay the same (the fingerprint covers
    each model key, its weights' checksum and the export's settings): the folder and its models.

    Raises:
        OnnxExportError: as :func:`export_onnx`.
    """
    settings = [OPSET, MANIFEST_FORMAT, half] + (["int8", MAX_INT8_ACCURACY_DROP, _QUANTIZED_OPS] if int8_on else [])
    described = json.dumps([[key, run.weights_sha256] for key, run in runs.items()] + settings)
    folder = Path(cache) / "onnx" / _sha256(described.encode())[:16]
    try:
        models = read_manifest(folder)
    except OnnxExportError:  # not exported yet, or damaged since: export again
        return folder, export_onnx(runs, folder, half, int8_on)
    if int8_on is not None and any(model.int8 is None for model in models):
        test_set = int8_on()  # exported where no test set was at hand, float16 unchecked: check them if one is now
        if test_set is not None:
            return folder, export_onnx(runs, folder, half, test_set)
    return folder, models
