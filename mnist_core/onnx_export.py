"""Models that run anywhere: each run as an ONNX file, for browsers (ONNX Runtime Web) and other runtimes.

An exported model takes float32 pixels ``[N, 1, 28, 28]`` in [0, 1] — a white digit on black, as
MNIST and :func:`mnist_core.preprocess.prepare_digit` give them — and returns ``[N, 10]``
probabilities: MNIST's normalisation and the softmax are inside the graph, so a caller does
neither (the tutorials' bug of normalising twice cannot happen there).

``export_onnx`` writes ``<folder>/<model key>.onnx`` per run and ``<folder>/manifest.json``
describing them (key, name, colour, run, accuracy, file, its SHA-256 and size); each file is
written to a temporary name, then renamed, so a crash leaves no half-written model. ONNX
Runtime is imported only to check a file (:func:`check_onnx`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
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


class OnnxExportError(ValueError):
    """A model could not be exported or its file does not hold a usable model; the message says why."""


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


def export_onnx(runs: Mapping[str, RunInfo], folder: str | os.PathLike, half: bool = False) -> list[ExportedModel]:
    """Write each run of ``runs`` (model key → run) as ``<folder>/<key>.onnx``, then the manifest.

    ``half``: store the weights as float16 (half the download), turned back into float32 inside the graph,
    so the computation and the model's inputs and outputs stay float32.

    Raises:
        OnnxExportError: a model could not be exported, or the folder cannot be written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OnnxExportError(f"cannot create {folder}: {error.strerror or error}") from None
    exported = [_export_one(key, run, folder, half) for key, run in runs.items()]
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
        return [ExportedModel(**entry) for entry in record["models"]]
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
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    largest, answers = 0.0, []
    model.eval()
    for start in range(0, len(pixels), batch):
        part = np.asarray(pixels[start : start + batch], dtype=np.float32)[:, None]
        onnx_probabilities = session.run([OUTPUT_NAME], {INPUT_NAME: part})[0]
        with torch.no_grad():
            torch_probabilities = torch.softmax(model((torch.from_numpy(part) - MNIST_MEAN) / MNIST_STD), 1).numpy()
        largest = max(largest, float(np.abs(onnx_probabilities - torch_probabilities).max()))
        answers.append(onnx_probabilities.argmax(axis=1))
    return largest, np.concatenate(answers) if answers else np.zeros(0, dtype=np.int64)


def _export_one(key: str, run: RunInfo, folder: Path, half: bool = False) -> ExportedModel:
    import torch

    wrapped = _pixels_to_probabilities(load_model(run)).eval()
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
        if half:
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
                         file=target.name, sha256=_sha256(data), bytes=len(data))


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


def _weights_as_float16(path: str) -> None:
    """Rewrite the ONNX file at ``path`` with its float32 weights stored as float16, each cast back to
    float32 by a Cast node at the graph's start."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    graph = model.graph
    casts, initializers = [], []
    for initializer in graph.initializer:
        if initializer.data_type != TensorProto.FLOAT:
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


def exported_runs(runs: Mapping[str, RunInfo], cache: str | os.PathLike,
                  half: bool = False) -> tuple[Path, list[ExportedModel]]:
    """The ONNX files of ``runs`` (``half``: float16 weights, see :func:`export_onnx`), exported once into
    ``<cache>/onnx/<fingerprint>/`` and reused while the runs' weights stay the same (the fingerprint covers
    each model key, its weights' checksum and the export's settings): the folder and its models.

    Raises:
        OnnxExportError: as :func:`export_onnx`.
    """
    described = json.dumps([[key, run.weights_sha256] for key, run in runs.items()] + [OPSET, MANIFEST_FORMAT, half])
    folder = Path(cache) / "onnx" / _sha256(described.encode())[:16]
    try:
        return folder, read_manifest(folder)
    except OnnxExportError:  # not exported yet, or damaged since: export again
        return folder, export_onnx(runs, folder, half)
