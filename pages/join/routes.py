"""The phones' page, /join: plain HTTP routes served beside the dashboard by the same server (app.py).

A phone opens one HTML page, then loads ONNX Runtime Web and the exported models once (content-hashed
URLs, cached for a year, gzipped); it prepares each drawing and runs the three models itself
(static/join.js, static/prepare.js). The server holds no Streamlit session per phone and does no
work per stroke: its only work is a label, a POST that stores the drawing in the audience store the
Audience page reads.

    GET  /join                       the page
    GET  /join/assets/<digest>/...   its scripts, styles and ONNX Runtime Web (immutable)
    GET  /join/models                the models in use: names, colours, URLs of their ONNX files
    GET  /join/models/<digest>/<file>  an exported model (immutable)
    POST /join/label                 {session, label, pixels, canvas, answers} → stored
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import html
import json
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from mnist_core import paths
from mnist_core.audience import AudienceStore, AudienceStoreError, audience_db
from mnist_core.models import ModelFileError, load_user_models
from mnist_core.onnx_export import ExportedModel, OnnxExportError, exported_runs
from mnist_core.runs import RunInfo, default_runs, find_runs, runs_signature

APP_FOLDER = Path(__file__).resolve().parents[2]  # where app.py, checkpoints/ and runs/ live
STATIC = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"  # a content-hashed URL never changes
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".wasm": "application/wasm",
          ".onnx": "application/octet-stream", ".json": "application/json", ".md": "text/plain; charset=utf-8"}
MAX_LABEL_BYTES = 400_000  # a 280x280 canvas as PNG is 5-30 kB; 784 pixels and 30 probabilities a few kB
MAX_CANVAS_BYTES = 300_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class LabelError(ValueError):
    """A label the page cannot store as sent; the message is shown on the phone."""


# --- the page and its assets --------------------------------------------------------------------

@lru_cache(maxsize=1)
def assets_digest() -> str:
    """One digest of every static file: part of their URLs, so a changed file is a new URL."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


async def page(request: Request) -> Response:
    config = {"assets": f"/join/assets/{assets_digest()}", "models": "/join/models", "label": "/join/label"}
    text = (STATIC / "join.html").read_text(encoding="utf-8")
    text = text.replace("{{assets}}", config["assets"]).replace("{{config}}", html.escape(json.dumps(config)))
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    if request.path_params["digest"] != assets_digest():  # an old page's URL: the files have changed
        return Response("This page has been updated: reload it.", status_code=404)
    path = (STATIC / request.path_params["path"]).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        return Response("No such file.", status_code=404)
    return await _file_response(request, path)


async def _file_response(request: Request, path: Path) -> Response:
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    media_type = _TYPES.get(path.suffix, "application/octet-stream")
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = await run_in_threadpool(_gzipped, str(path), path.stat().st_mtime_ns)
        return Response(body, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(await run_in_threadpool(path.read_bytes), media_type=media_type, headers=headers)


_gzip_lock = threading.Lock()


@lru_cache(maxsize=32)
def _gzipped_cached(path: str, modified: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)


def _gzipped(path: str, modified: int) -> bytes:
    """The file gzipped, once per file and version (ONNX Runtime's 15 MB WebAssembly goes out as 3.8 MB)."""
    with _gzip_lock:  # sixty phones asking at once compress it once
        return _gzipped_cached(path, modified)


# --- the models ---------------------------------------------------------------------------------

def runs_in_use() -> dict[str, RunInfo]:
    """Each model's run as the dashboard uses it when nobody has chosen (shipped, else newest)."""
    load_user_models()  # the operator's own models, as the dashboard's frame loads them (once per process)
    checkpoints = paths.checkpoints_dir(APP_FOLDER)
    runs, _ = find_runs(checkpoints, paths.user_runs_dir(APP_FOLDER))
    return default_runs(runs, checkpoints)


def models_in_use() -> tuple[Path, dict[str, RunInfo], list[ExportedModel]]:
    """The runs in use, exported to ONNX (once per set of weights, in the cache folder). Cached while the run
    folders stay as they are (a directory scan decides): a label costs no run reading or checksums."""
    checkpoints, user_runs = paths.checkpoints_dir(APP_FOLDER), paths.user_runs_dir(APP_FOLDER)
    signature = (runs_signature(checkpoints, user_runs), str(paths.cache_dir()))
    with _export_lock:
        known = _in_use.get(signature)
        if known is not None and all((known[0] / model.file).is_file() for model in known[2]):
            return known
        runs = runs_in_use()
        if not runs:
            raise OnnxExportError("No trained models yet: the presenter trains them on the dashboard's Train page "
                                  "(or restores checkpoints/). Then reload this page.")
        # Float16 weights: half the download (3.3 MB for the three), and on the 10,000 test images not one
        # answer differs from PyTorch's (python -m mnist_core export --onnx DIR --fp16 --check; README).
        folder, models = exported_runs(runs, paths.cache_dir(), half=True)
        _in_use.clear()
        _in_use[signature] = (folder, runs, models)
        return folder, runs, models


_in_use: dict[tuple, tuple[Path, dict[str, RunInfo], list[ExportedModel]]] = {}


_export_lock = threading.Lock()


async def models(request: Request) -> Response:
    try:
        folder, runs, exported = await run_in_threadpool(models_in_use)
    except (OnnxExportError, ModelFileError) as error:
        return JSONResponse({"error": str(error)}, status_code=503, headers={"Cache-Control": "no-cache"})
    listing = [{"key": model.key, "name": model.name, "colour": model.colour, "accuracy": model.accuracy,
                "bytes": model.bytes, "url": f"/join/models/{folder.name}/{model.file}"} for model in exported]
    # "version": the export these files are; a label names it, so none is stored against runs changed since.
    return JSONResponse({"version": folder.name, "models": listing}, headers={"Cache-Control": "no-cache"})


async def model_file(request: Request) -> Response:
    digest, name = request.path_params["digest"], request.path_params["file"]
    exports = (paths.cache_dir() / "onnx").resolve()
    path = (exports / digest / name).resolve()
    if not _DIGEST.fullmatch(digest) or not name.endswith(".onnx") or path.parent != exports / digest \
            or not path.is_file():
        return Response("No such model: reload the page.", status_code=404)
    return await _file_response(request, path)


_DIGEST = re.compile(r"[0-9a-f]{16}")


# --- labels -------------------------------------------------------------------------------------

async def label(request: Request) -> Response:
    try:
        body = await _capped_body(request)
        stored, total = await run_in_threadpool(store_label, body)
    except LabelError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    except AudienceStoreError as error:
        return JSONResponse({"error": f"The room's test set cannot be written just now ({error}). Your drawing is "
                                      "still here: press the digit again in a moment.", "retry": True},
                            status_code=503)
    return JSONResponse({"stored": stored, "drawings": total})


async def _capped_body(request: Request) -> bytes:
    """The request's body, refused past MAX_LABEL_BYTES before it is all read."""
    too_large = LabelError("That drawing is too large to store: clear the canvas and draw it again.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_LABEL_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LABEL_BYTES:
            raise too_large
    return bytes(body)


def store_label(body: bytes) -> tuple[int, int]:
    """Store one labelled drawing sent by a phone; return its id and how many drawings there are."""
    try:
        record = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LabelError("The page sent something that is not a drawing: reload it.") from None
    if not isinstance(record, dict):
        raise LabelError("The page sent something that is not a drawing: reload it.")
    label_value = record.get("label")
    if not isinstance(label_value, int) or isinstance(label_value, bool) or not 0 <= label_value <= 9:
        raise LabelError("A label is a digit from 0 to 9.")
    pixels = _pixels(record.get("pixels"))
    canvas = _canvas_png(record.get("canvas"))
    session = str(record.get("session", ""))[:64] or "phone"
    folder, runs, exported = models_in_use()
    if record.get("models") != folder.name:  # the presenter changed the runs in use since this page loaded
        raise LabelError("The models have changed since this page loaded: reload it, then draw again.")
    answers = record.get("answers")
    keys = [model.key for model in exported]
    if not isinstance(answers, dict) or sorted(answers) != sorted(keys):
        raise LabelError("The models have changed since this page loaded: reload it, then draw again.")
    store = AudienceStore(audience_db(APP_FOLDER))
    try:
        stored = store.add(label=label_value, canvas_png=canvas, pixels=pixels,
                           answers={key: answers[key] for key in keys},
                           runs={key: str(runs[key].path) for key in keys}, session=f"join-{session}")
    except ValueError as error:  # answers that are not probabilities
        raise LabelError(f"The models' answers were not probabilities ({error}): reload the page.") from None
    return stored, store.count()


def _pixels(value) -> np.ndarray:
    try:
        pixels = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pixels = None
    if pixels is None or pixels.shape != (784,) or not np.isfinite(pixels).all() or pixels.min() < 0 \
            or pixels.max() > 255:
        raise LabelError("The digit the models saw must be 28x28 values from 0 to 255: reload the page.")
    return np.round(pixels).astype(np.uint8).reshape(28, 28)


def _canvas_png(value) -> bytes:
    prefix = "data:image/png;base64,"
    if not isinstance(value, str) or not value.startswith(prefix):
        raise LabelError("The drawing must come as a PNG image: reload the page.")
    try:
        data = base64.b64decode(value[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise LabelError("The drawing's image is damaged: draw it again.") from None
    if len(data) > MAX_CANVAS_BYTES or not data.startswith(PNG_SIGNATURE):
        raise LabelError("The drawing's image is damaged or too large: draw it again.")
    return data


def join_routes() -> list[Route]:
    return [
        Route("/join", page),
        Route("/join/assets/{digest}/{path:path}", asset),
        Route("/join/models", models),
        Route("/join/models/{digest}/{file}", model_file),
        Route("/join/label", label, methods=["POST"]),
    ]
