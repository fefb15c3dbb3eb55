"""What a ``run.json`` may hold, checked in full before anything reads it.

A run file comes from disk, where anyone may have edited, truncated or crafted it. Before
parsing, its size and nesting depth are capped (a deeply nested file would exhaust the
parser's recursion); JSON's non-standard ``NaN``/``Infinity`` are refused; then the whole
record is checked against :data:`RUN_SCHEMA` (types, ranges, list sizes, every history row)
with ``jsonschema``, and against what the schema cannot say (the confusion matrix adds up
to the number of test images). Whatever passes can be shown and charted without surprises.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
from jsonschema import Draft202012Validator

RUN_FORMAT = "mnist-dashboard-run"
RUN_FORMAT_VERSION = 1
MAX_RUN_FILE_BYTES = 1 * 2**20  # a run.json is about 10 KB; a year of epochs would still fit
MAX_DEPTH = 8  # the deepest a valid run.json nests is 4 (record → metrics → precision → value)
MAX_WEIGHTS_BYTES = 64 * 2**20  # the largest model's weights are a few MB
MAX_IMAGES = 10_000_000  # far more than MNIST has, far less than any integer overflow
MAX_EPOCHS = 10_000


def _number(minimum: float = 0, maximum: float | None = None) -> dict:
    schema: dict[str, Any] = {"type": "number", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _count(maximum: int = MAX_IMAGES, minimum: int = 0) -> dict:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


_FRACTION = _number(0, 1)
_PER_CLASS = {"type": "array", "items": _FRACTION, "minItems": 10, "maxItems": 10}
_HISTORY_ROW = {
    "type": "object",
    "required": ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"],
    "properties": {
        "epoch": _count(MAX_EPOCHS, minimum=1),
        "train_loss": _number(),
        "train_accuracy": _FRACTION,
        "test_loss": _number(),
        "test_accuracy": _FRACTION,
        "seconds": _number(),
        "validation_loss": _number(),
        "validation_accuracy": _FRACTION,
    },
    # Later versions may add per-epoch numbers; they must be numbers too (or null).
    "additionalProperties": {"type": ["number", "null"]},
    "maxProperties": 32,
}
_SCALAR = {"type": ["string", "number", "boolean", "null"], "maxLength": 200}

RUN_SCHEMA = {
    "type": "object",
    "required": ["format", "format_version", "model", "parameters", "config", "history", "metrics",
                 "confusion_matrix", "weights"],
    "properties": {
        "format": {"const": RUN_FORMAT},
        "format_version": {"const": RUN_FORMAT_VERSION},
        "model": {"type": "string", "maxLength": 50},
        "name": {"type": "string", "maxLength": 100},
        "parameters": _count(10**9, minimum=1),
        "config": {"type": "object", "additionalProperties": _SCALAR, "maxProperties": 64},
        "history": {"type": "array", "items": _HISTORY_ROW, "maxItems": MAX_EPOCHS},
        "metrics": {
            "type": "object",
            "required": ["accuracy"],
            "properties": {
                "accuracy": _FRACTION,
                "loss": {"type": ["number", "null"], "minimum": 0},
                "precision": _PER_CLASS,
                "recall": _PER_CLASS,
                "f1": _PER_CLASS,
                "support": {"type": "array", "items": _count(), "minItems": 10, "maxItems": 10},
            },
            "additionalProperties": {"type": ["number", "null"]},
            "maxProperties": 32,
        },
        "confusion_matrix": {
            "type": "array", "minItems": 10, "maxItems": 10,
            "items": {"type": "array", "items": _count(), "minItems": 10, "maxItems": 10},
        },
        "test_images": _count(minimum=1),
        "train_images": _count(),
        "validation_images": _count(),
        "training_seconds": _number(0, 10**8),
        "stopped_early": {"type": "boolean"},
        "created": {"type": "string", "maxLength": 64},
        "versions": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 100},
                     "maxProperties": 32},
        "weights": {
            "type": "object",
            "required": ["sha256", "bytes"],
            "properties": {
                "file": {"type": "string", "maxLength": 100},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "bytes": _count(MAX_WEIGHTS_BYTES, minimum=1),
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(RUN_SCHEMA)
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


def parse_run_record(data: bytes) -> dict[str, Any]:
    """The checked contents of a ``run.json``.

    Raises:
        ValueError: with one sentence on the first thing that is wrong, naming the field.
    """
    if len(data) > MAX_RUN_FILE_BYTES:
        raise ValueError(f"is {len(data):,} bytes, too large to be a run description")
    depth = json_depth(data)
    if depth > MAX_DEPTH:
        raise ValueError(f"nests {depth} levels deep; a run description nests at most {MAX_DEPTH}")
    try:
        record = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"is not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise ValueError("is not a run description of this dashboard")
    if record.get("format_version") != RUN_FORMAT_VERSION:
        raise ValueError(f"has format version {str(record.get('format_version'))[:20]!r}; "
                         f"this version reads {RUN_FORMAT_VERSION}")
    error = next(iter(sorted(_VALIDATOR.iter_errors(record), key=lambda e: list(e.absolute_path))), None)
    if error is not None and error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        raise ValueError(f"lacks the field(s) {', '.join(missing)} at {_where(error.absolute_path)}")
    if error is not None:
        raise ValueError(f"has a bad value at {_where(error.absolute_path)}: {_shorten(error.message)}")
    confusion = np.asarray(record["confusion_matrix"], dtype=np.int64)
    test_images = record.get("test_images", int(confusion.sum()))
    if int(confusion.sum()) != test_images:
        raise ValueError(f"has a confusion matrix of {int(confusion.sum()):,} images but says it was measured "
                         f"on {test_images:,}")
    if test_images == 0:
        raise ValueError("has an empty confusion matrix")
    return record


def json_depth(data: bytes) -> int:
    """How deeply ``data`` nests arrays and objects, computed without parsing (strings are skipped)."""
    outside_strings = np.frombuffer(_STRINGS.sub(b'""', data), dtype=np.uint8)
    steps = np.isin(outside_strings, np.frombuffer(b"[{", np.uint8)).astype(np.int32)
    steps -= np.isin(outside_strings, np.frombuffer(b"]}", np.uint8))
    return int(np.cumsum(steps).max()) if steps.size else 0


def _refuse_constant(name: str) -> None:
    raise ValueError(f"holds {name}, which is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 is valid JSON, but Python reads it as infinity
        raise ValueError(f"holds {text[:20]}, a number too large to be finite")
    return value


def _where(path) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in path]
    return "".join(parts).lstrip(".") or "the top level"


def _shorten(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
