"""The phones' page, /join: plain HTTP routes served beside the dashboard by the same server (app.py).

A phone opens one HTML page, then loads ONNX Runtime Web and the exported models once (content-hashed
URLs, cached for a year, brotli or gzip: compression.py), the smallest model first; it prepares each drawing
and runs the three models itself
(static/join.js, static/prepare.js). The server holds no Streamlit session per phone and does no
work per stroke: its only work is a label, a POST that stores the drawing in the audience store the
Audience page reads, scored by the server's own run of the models on the 28x28 digit (about 1 ms):
a phone's answers are compared, never trusted.

    GET  /join                       the page
    GET  /join/assets/<digest>/...   its scripts, styles and ONNX Runtime Web (immutable)
    GET  /join/models                the models in use: names, colours (as marks, and as text in each colour
                                     scheme), URLs of their ONNX files
    GET  /join/models/<digest>/<file>  an exported model (immutable)
    GET  /join/digit                 one of MNIST's test images at random: answered on the phone, never stored
    POST /join/hello                 {session} → {nickname}: the two random words the phone is known by
    POST /join/label                 {session, label, pixels, canvas, answers, models} → stored

A phone's session is a secret it keeps (localStorage); the store keeps only its digest
(mnist_core.room.phone_session), so no export or page shows an id anyone could post under.

A label is refused before it costs anything: a method other than POST (405), a body that is not JSON
(415) or sent by a page of another origin (403), one that does not arrive within BODY_SECONDS (408),
past a phone's or a network's rate (429, limits.py), or when the room's store is full (507).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import logging
import random
import re
import struct
import threading
import zlib
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from join import compression, i18n
from join.limits import LabelLimits, LabelRefused
from mnist_core import preprocess, room, strokes
from mnist_core.audience import AudienceStoreError, AudienceStoreFull, LabelLocked, describe_retention, retention
from mnist_core.canvas import BRUSH_WIDTH, CANVAS_SIDE
from mnist_core.data import RAW_FILES, MnistDataError, data_available, raw_folder, read_test_split
from mnist_core.game import Game
from mnist_core.models import MODELS, ModelFileError, load_user_models
from mnist_core.onnx_export import ExportedModel, OnnxExportError, exported_runs, verified_file
from mnist_core.predict import ModelSet, load_model_set
from mnist_core.runs import RunError, RunInfo
from mnist_core.workspace import Workspace

STATIC = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"  # a content-hashed URL never changes
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".wasm": "application/wasm",
          ".onnx": "application/octet-stream", ".json": "application/json", ".md": "text/plain; charset=utf-8"}
MAX_LABEL_BYTES = 400_000  # a 280x280 canvas as PNG is 5-30 kB; 784 pixels and 30 probabilities a few kB
# (this cap bounds the canvas too: its base64 is most of the body)
MAX_CANVAS_SIDE = 1000  # pixels, width and height: the page's canvas is 280x280; a PNG header may claim 2**31
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BODY_SECONDS = 10  # to receive a label's body: its 5-30 kB take well under a second on a classroom's Wi-Fi;
# a client trickling 400 kB holds a connection and its buffer no longer than this
SESSION_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # join.js's sessionId(): crypto.randomUUID(), 36 characters,
# else "<milliseconds>-<Math.random()>"; any id a page makes up only shares the limits of that id
_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]  # routed to /join/label's own 405
# What static/prepare.js ports of prepare_digit needs, under the library's names: sent in the page's config, never
# copied into the script, so a phone prepares a drawing with the Draw page's thresholds and sizes.
PREPARE = {
    "INK_THRESHOLD": preprocess.INK_THRESHOLD,
    "MIN_CONTRAST": preprocess.MIN_CONTRAST,
    "MIN_VISIBLE_CONTRAST": preprocess.MIN_VISIBLE_CONTRAST,
    "MIN_INK_FRACTION": preprocess.MIN_INK_FRACTION,
    "MIN_INK_BOX_FRACTION": preprocess.MIN_INK_BOX_FRACTION,
    "MAX_INK_FRACTION": preprocess.MAX_INK_FRACTION,
    "FIELD": preprocess.FIELD,
    "BOX": strokes.BOX,
    "WORK_SIDE": strokes.WORK_SIDE,
    "STROKE_LEVEL": strokes.STROKE_LEVEL,
    "MNIST_STROKE_WIDTH": strokes.MNIST_STROKE_WIDTH,
    "LOOPS_FILL_IN": strokes.LOOPS_FILL_IN,
}


_log = logging.getLogger(__name__)


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


async def page(request: Request, workspace: Workspace) -> Response:
    # In the phone's language (join/i18n.py): Accept-Language for this first paint, navigator.languages in join.js.
    language = i18n.choose(request.headers.get("accept-language"))
    # "digit": MNIST's test images for the path without drawing; None where this server has none (upload only).
    has_digits = data_available(workspace.data())
    config = {"assets": f"/join/assets/{assets_digest()}", "models": "/join/models", "label": "/join/label",
              "hello": "/join/hello", "game": "/join/game", "check": "/join/check",
              "digit": "/join/digit" if has_digits else None,
              "canvas": {"side": CANVAS_SIDE, "brush": BRUSH_WIDTH}, "prepare": PREPARE,
              "language": language, "languages": list(i18n.languages()), "strings": i18n.strings(language),
              "keep": kept_for()}
    text = i18n.fill((STATIC / "join.html").read_text(encoding="utf-8"), language)
    text = text.replace("{{lang}}", language)
    text = text.replace("{{assets}}", config["assets"]).replace("{{config}}", html.escape(json.dumps(config)))
    text = text.replace("{{canvas_side}}", str(CANVAS_SIDE))
    text = text.replace("{{privacy}}", html.escape(privacy_note(language)))
    return HTMLResponse(text, headers={"Cache-Control": "no-cache", "Vary": "Accept-Language",
                                       "Content-Language": language})


def privacy_note(language: str = i18n.DEFAULT) -> str:
    """What the server keeps of a phone, in one line (the page's foot), in ``language`` (join.js says the same
    from the config's "keep" when it changes the page's language)."""
    table, keep = i18n.strings(language), kept_for()
    kept = table["privacy_kept"] if keep is None else \
        table["privacy_deleted_after"].format(time=table[f"time_{keep[1]}"].format(count=keep[0]))
    return table["privacy"].format(kept=kept)


def kept_for() -> tuple[str, str] | None:
    """How long drawings are kept as (count, unit): ("7", "days"), ("1", "hour"), ("90", "minutes"); None: until
    the presenter deletes them."""
    try:
        kept = describe_retention(retention())  # "90 minutes", "1 hour", "7 days", or "until the presenter …"
    except ValueError:  # the server refuses to start with such a value; a page is never the place to fail
        return None
    count, _, unit = kept.partition(" ")
    return (count, unit) if count[:1].isdigit() and unit in ("minutes", "hour", "hours", "days") else None


async def asset(request: Request) -> Response:
    if request.path_params["digest"] != assets_digest():  # an old page's URL: the files have changed
        return Response("This page has been updated: reload it.", status_code=404)
    path = (STATIC / request.path_params["path"]).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        return Response("No such file.", status_code=404)
    return await _file_response(request, path)


async def _file_response(request: Request, path: Path) -> Response:
    if path.suffix == ".br":  # a vendored file's brotli asked for as a file: a page that decodes it itself (join.js).
        # "identity": sent as it is; without a Content-Encoding the server's gzip middleware (Streamlit's) would
        # gzip its 2.45 MB again on every request (at level 9, for 0.15 %).
        return Response(await run_in_threadpool(path.read_bytes), media_type="application/octet-stream",
                        headers={"Cache-Control": IMMUTABLE, "Content-Encoding": "identity"})
    # A vendored file's brotli, made by `make vendor-ort` (tests/test_join.py checks each is its file's)
    ready = compression.precompressed(path)
    return await _bytes_response(request, path.suffix, (str(path), path.stat().st_mtime_ns), path.read_bytes, ready)


def _coding(request: Request) -> str | None:
    """The compression a response to ``request`` uses: brotli where accepted, else gzip, else none."""
    codings = compression.accepted(request.headers.get("accept-encoding", ""))
    return "br" if "br" in codings else "gzip" if "gzip" in codings else None


async def _bytes_response(request: Request, suffix: str, version: tuple, read: Callable[[], bytes],
                          ready: Path | None = None) -> Response:
    """What ``read`` gives, as a file named ``*suffix``, immutable; brotli where the request accepts it, else
    gzip, else as it is, each compressed once per ``version`` (compression.py; ``ready``: a brotli made ahead)."""
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    media_type = _TYPES.get(suffix, "application/octet-stream")
    coding = _coding(request)
    if coding is None:
        return Response(await run_in_threadpool(read), media_type=media_type, headers=headers)
    body = await run_in_threadpool(compression.encoded, coding, version, read, ready)
    return Response(body, media_type=media_type, headers={**headers, "Content-Encoding": coding})


# --- the models ---------------------------------------------------------------------------------

def models_in_use(workspace: Workspace) -> tuple[Path, dict[str, RunInfo], list[ExportedModel]]:
    """The runs in use when nobody has chosen (shipped, else newest), exported to ONNX (once per set of weights,
    in the cache folder). Cached while the run folders stay as they are (a directory scan decides): a label costs
    no run reading or checksums."""
    load_user_models()  # the operator's own models, as the dashboard's frame loads them (once per process)
    signature = (workspace.runs_signature(), str(workspace.cache))
    with _export_lock:
        known = _in_use.get(signature)
        if known is not None and all((known[0] / model.file).is_file() for model in known[2]):
            return known
        runs = workspace.runs_in_use()
        if not runs:
            raise OnnxExportError("No trained models yet: the presenter trains them on the dashboard's Train page "
                                  "(or restores checkpoints/). Then reload this page.")
        # Int8 fully connected weights, the rest float16: 1.7 MB for the three (float16: 3.3 MB), where each
        # model's answers on the 10,000 test images keep PyTorch's accuracy within 0.05 points (docs/CLASSROOM.md).
        # A shipped checkpoint's check is stored beside it (int8_check.json, `make int8-checks`): read, not run.
        # A run of the user's is checked here, once per set of weights (10-30 s, in a worker thread, under the
        # lock: phones asking meanwhile wait for this one export); without the test set here it stays float16.
        folder, models = exported_runs(runs, workspace.cache, half=True, int8_on=_test_set(workspace.data()))
        _in_use.clear()
        _in_use[signature] = (folder, runs, models)
        return folder, runs, models


_in_use: dict[tuple, tuple[Path, dict[str, RunInfo], list[ExportedModel]]] = {}


def _test_set(root: Path) -> Callable[[], tuple[np.ndarray, np.ndarray] | None]:
    """The 10,000 test images in [0, 1] and their labels, read when an export needs them (once per weights);
    None where this machine has no MNIST or its test files are damaged: the run is served float16, unchecked (the
    presenter is told in the server's log; a phone is not, nor of the server's folders)."""
    def read() -> tuple[np.ndarray, np.ndarray] | None:
        if not data_available(root):
            return None
        try:
            images, labels = read_test_split(root)
        except MnistDataError as error:
            _log.warning("/join serves a run float16, its int8 weights unchecked: %s", error)
            return None
        return images.astype(np.float32) / 255, labels
    return read


_export_lock = threading.Lock()


def _forget_in_use() -> None:
    """The next /join/models exports again. Called in a worker thread: an export may hold the lock for 30 s."""
    with _export_lock:
        _in_use.clear()


async def models(workspace: Workspace, request: Request) -> Response:
    try:
        folder, runs, exported = await run_in_threadpool(models_in_use, workspace)
    except (OnnxExportError, ModelFileError) as error:
        return JSONResponse({"error": str(error)}, status_code=503, headers={"Cache-Control": "no-cache"})
    except OSError as error:  # the cache folder cannot be written (permissions, a full disk, no file handles left)
        return JSONResponse({"error": f"The server cannot write the models' files in {workspace.cache} "
                                      f"({error.strerror or error}): the presenter frees that folder "
                                      "($MNIST_CACHE_DIR), then reload this page."},
                            status_code=503, headers={"Cache-Control": "no-cache"})
    # "download": the bytes each file's response will carry (compressed as this request accepts: compressing
    # here is the files' first request, done once): the page's progress bar counts them.
    coding = _coding(request)
    try:
        downloads = await run_in_threadpool(
            lambda: [_download(coding, ("onnx", model.sha256), partial(_verified_bytes, folder, model.file), None)
                     for model in exported])
    except OnnxExportError as error:  # a file changed since its export: the next /join/models exports it again
        _log.warning("/join/models: %s", error)
        await run_in_threadpool(_forget_in_use)
        return JSONResponse({"error": "A model's file has changed on the server: reload the page."},
                            status_code=503, headers={"Cache-Control": "no-cache"})
    # "colour": the model's own, for borders and marks; "text": its variant that reads 4.5:1 as text on each
    # scheme's page (the registry's text_colors), for its answer digit.
    listing = [{"key": model.key, "name": model.name, "colour": model.colour,
                "text": MODELS[model.key].text_colors._asdict(), "accuracy": model.accuracy,
                "bytes": model.bytes, "download": download, "weights": model.weights,
                "int8_refused": model.int8.refused if model.int8 else None,
                "url": f"/join/models/{folder.name}/{model.file}"} for model, download in zip(exported, downloads)]
    wasm, assets = STATIC / RUNTIME_WASM, f"/join/assets/{assets_digest()}"
    wasm_brotli = compression.precompressed(wasm)
    if coding != "br" and wasm_brotli.is_file():
        # A browser takes brotli only from HTTPS or localhost: over the room's plain http:// the page fetches the
        # WebAssembly's .br as a file (2.45 MB; gzip: 3.81) and decodes it itself (BROTLI_DECODER, in a worker).
        # "decode": the decoder's bytes as this request's coding sends them, on the progress bar too.
        size = wasm_brotli.stat().st_size
        decoder = STATIC / BROTLI_DECODER
        runtime = {"url": f"{assets}/{RUNTIME_WASM}.br", "bytes": size, "download": size, "decode": {
            "url": f"{assets}/{BROTLI_DECODER}", "download": await run_in_threadpool(
                _download, coding, (str(decoder), decoder.stat().st_mtime_ns), decoder.read_bytes, None)}}
    else:
        runtime = {"url": f"{assets}/{RUNTIME_WASM}", "bytes": wasm.stat().st_size,
                   "download": await run_in_threadpool(_download, coding, (str(wasm), wasm.stat().st_mtime_ns),
                                                       wasm.read_bytes, wasm_brotli)}
    # "version": the export these files are; a label names it, so none is stored against runs changed since.
    # Vary: the runtime's entry depends on Accept-Encoding.
    return JSONResponse({"version": folder.name, "models": listing, "runtime": runtime},
                        headers={"Cache-Control": "no-cache", "Vary": "Accept-Encoding"})


RUNTIME_WASM = "vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm"  # ONNX Runtime Web's WebAssembly: the page
# fetches it itself (ort.env.wasm.wasmBinary) to count its bytes on the progress bar
BROTLI_DECODER = "vendor/brotli/decode.min.js"  # Google's brotli decoder in JavaScript (vendor/brotli/README.md)


def _download(coding: str | None, version: tuple, read: Callable[[], bytes], ready: Path | None) -> int:
    """The size of a file's body as sent with ``coding``."""
    return len(read()) if coding is None else len(compression.encoded(coding, version, read, ready))


def _verified_bytes(folder: Path, name: str) -> bytes:
    """An exported model's bytes, checked against its manifest's SHA-256: what is compressed and kept under that
    digest (compression.encoded) is always what was checked, whichever route asks first."""
    return verified_file(folder, name)[0]


async def model_file(workspace: Workspace, request: Request) -> Response:
    digest, name = request.path_params["digest"], request.path_params["file"]
    exports = (workspace.cache / "onnx").resolve()
    path = (exports / digest / name).resolve()
    if not _DIGEST.fullmatch(digest) or not name.endswith(".onnx") or path.parent != exports / digest \
            or not path.is_file():
        return Response("No such model: reload the page.", status_code=404)
    try:  # served for a year: only the bytes its export's manifest names (SHA-256), never a file changed since
        data, sha256 = await run_in_threadpool(verified_file, path.parent, name)
    except OnnxExportError:  # the next /join/models exports it again (read_manifest finds the same mismatch)
        await run_in_threadpool(_forget_in_use)
        return Response("This model's file has changed on the server: reload the page.", status_code=503,
                        headers={"Cache-Control": "no-store"})
    return await _bytes_response(request, ".onnx", ("onnx", sha256), lambda: data)


_DIGEST = re.compile(r"[0-9a-f]{16}")


# --- a test digit: the way to the models' answers without drawing (a keyboard, a screen reader) ---------------

async def digit(workspace: Workspace, request: Request) -> Response:
    """One of MNIST's test images, chosen at random: ``{"index", "label", "pixels": 784 values 0-255}``. The page
    runs its models on it and stores nothing: it is MNIST's digit, not the class's drawing."""
    try:
        images, labels = await run_in_threadpool(mnist_test_split, workspace)
    except MnistDataError:  # the page offers only a photo then; the server's folders are not the phone's business
        return JSONResponse({"error": "This server has no MNIST test images: upload a photo of a digit instead."},
                            status_code=503, headers={"Cache-Control": "no-store"})
    index = random.randrange(len(labels))
    return JSONResponse({"index": index, "label": int(labels[index]), "pixels": images[index].ravel().tolist()},
                        headers={"Cache-Control": "no-store"})


def mnist_test_split(workspace: Workspace) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test images and labels, read once per version of their file (8 MB)."""
    images = raw_folder(workspace.data()) / RAW_FILES[2]
    try:
        stat = images.stat()
        version = (str(images.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = (str(images), 0, 0)
    return _mnist_test_split(version, workspace.data())


@lru_cache(maxsize=1)
def _mnist_test_split(version: tuple, root: Path) -> tuple[np.ndarray, np.ndarray]:
    return read_test_split(root)


# --- labels -------------------------------------------------------------------------------------

async def label(workspace: Workspace, request: Request) -> Response:
    if request.method != "POST":  # every method is routed here, or the dashboard's catch-all would answer it
        return JSONResponse({"error": "A label is sent with POST."}, status_code=405, headers={"Allow": "POST"})
    try:
        _check_sender(request)
        body = await _capped_body(request)
        reply = await run_in_threadpool(store_label, workspace, body, _address(request))
    except LabelRefused as refused:
        headers = {} if refused.retry_after is None else {"Retry-After": str(refused.retry_after)}
        if refused.status == 408:
            headers["Connection"] = "close"  # the rest of the body is never read: the connection goes
        return JSONResponse({"error": refused.message, "retry": refused.retry}, status_code=refused.status,
                            headers=headers)
    except LabelError as error:  # pressing again sends the same: the phone must reload or draw again
        return JSONResponse({"error": str(error), "retry": False}, status_code=400)
    except LabelLocked as error:  # a classmate reads the drawing: its label stays (mnist_core.game)
        return JSONResponse({"error": str(error), "retry": False}, status_code=409)
    except AudienceStoreFull as error:
        return JSONResponse({"error": str(error), "retry": False}, status_code=507)
    except AudienceStoreError as error:
        return JSONResponse({"error": f"The room's test set cannot be written just now ({error}). Your drawing is "
                                      "still here: press the digit again in a moment.", "retry": True},
                            status_code=503)
    except (RunError, ModelFileError) as error:  # the runs in use cannot be loaded here to score the drawing
        return JSONResponse({"error": f"The server cannot run the models just now ({error}). Your drawing is still "
                                      "here: press the digit again in a moment.", "retry": True}, status_code=503)
    return JSONResponse(reply)


async def _capped_body(request: Request) -> bytes:
    """The request's body, refused past MAX_LABEL_BYTES before it is all read."""
    too_large = LabelError("That drawing is too large to store: clear the canvas and draw it again.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_LABEL_BYTES:
        raise too_large
    body = bytearray()
    try:
        with anyio.fail_after(BODY_SECONDS):
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_LABEL_BYTES:
                    raise too_large
    except TimeoutError:
        raise LabelRefused(408, "The drawing took too long to arrive: check the Wi-Fi.", retry=True) from None
    return bytes(body)


def _check_sender(request: Request) -> None:
    """Refuse a POST that is not the /join page's own: JSON, and from this server's origin when a browser says.

    A page of another origin can send a "simple" request (text/plain, no preflight) that a browser does not
    stop; JSON needs a preflight, which /join/label refuses (405), and its Origin header names that page.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise LabelRefused(415, "The page must send its drawing as JSON: reload the page.")
    origin, own = request.headers.get("origin"), _origin(f"{request.url.scheme}://{request.headers.get('host', '')}")
    if origin is not None and (own is None or _origin(origin) != own):
        raise LabelRefused(403, "Drawings are taken only from this server's own /join page: open the address "
                           "on the projector.")


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, the port made explicit; None for one that is not an origin (``null``)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:  # a port that is not a number
        return None
    if not parts.hostname or port is None:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def _address(request: Request) -> str:
    """The phone's network: its address, as uvicorn gives it (see limits.py on X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


_limits = LabelLimits()  # this lesson's: until the presenter ends it (Workspace.new_lesson), or the server restarts
_limits_lesson = [0]  # the workspace's lesson _limits counts for


def _admit(workspace: Workspace, session: str, address: str) -> None:
    with _limits_lock:
        if _limits_lesson[0] != workspace.lesson:  # the presenter ended the lesson: each phone may label its fill
            _limits.new_lesson()
            _limits_lesson[0] = workspace.lesson
    _limits.admit(session, address)


_limits_lock = threading.Lock()


def store_label(workspace: Workspace, body: bytes, address: str = "") -> dict:
    """Store one labelled drawing sent by a phone, with the server's own answers; return what the phone shows:
    ``{"stored": id, "drawings": how many, "nickname": the phone's, "agreed": its answers were the server's}``."""
    try:
        record = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8 or JSON, an integer of 5,000 digits, 1,000 brackets deep
        raise LabelError("The page sent something that is not a drawing: reload it.") from None
    if not isinstance(record, dict):
        raise LabelError("The page sent something that is not a drawing: reload it.")
    label_value = record.get("label")
    if not isinstance(label_value, int) or isinstance(label_value, bool) or not 0 <= label_value <= 9:
        raise LabelError("A label is a digit from 0 to 9.")
    pixels = _pixels(record.get("pixels"))
    canvas = _canvas_png(record.get("canvas"))
    session = _session(record.get("session"))
    _answers(record.get("answers"))
    _admit(workspace, session, address)  # only a label that could be stored counts
    folder, runs, exported = models_in_use(workspace)
    if record.get("models") != folder.name:  # the presenter changed the runs in use since this page loaded
        raise LabelError("The models have changed since this page loaded: reload it, then draw again.")
    claimed = record.get("answers")
    keys = [model.key for model in exported]
    if sorted(claimed) != sorted(keys):
        raise LabelError("The models have changed since this page loaded: reload it, then draw again.")
    # The scores are the server's own: the models in use run here on the digit stored (about 1 ms); what the
    # phone says its models answered is only compared (a phone that differs is told, and counted nowhere).
    answers = server_models(folder.name, runs).predict_digit(pixels)
    agreed = all(int(np.argmax(claimed[key])) == int(np.argmax(answers[key])) for key in keys)
    stored_session = room.phone_session(session)  # the store never holds the secret a phone could be impersonated by
    store = workspace.audience_store()
    stored = store.add(label=label_value, canvas_png=canvas, pixels=pixels, answers=answers,
                       runs={key: str(runs[key].path) for key in keys}, session=stored_session)
    Game(store).enter(stored)  # a drawing of a running round takes part in it (mnist_core.game)
    return {"stored": stored, "drawings": store.count(), "nickname": room.nickname(stored_session),
            "agreed": agreed}


def server_models(version: str, runs: dict[str, RunInfo]) -> ModelSet:
    """The runs in use as PyTorch models, loaded once per export ``version`` (the weights /join serves)."""
    with _models_lock:
        if _server_models.get(version) is None:
            _server_models.clear()
            _server_models[version] = load_model_set(runs)
        return _server_models[version]


_server_models: dict[str, ModelSet] = {}
_models_lock = threading.Lock()


async def hello(request: Request) -> Response:
    """POST {session} → {nickname}: the two words this phone is known by in the room, shown on it at once."""
    if request.method != "POST":
        return JSONResponse({"error": "Say hello with POST."}, status_code=405, headers={"Allow": "POST"})
    try:
        _check_sender(request)
        body = await _capped_body(request)
        try:
            record = json.loads(body)
        except (ValueError, RecursionError):
            raise LabelError("The page sent something that is not a session: reload it.") from None
        session = _session(record.get("session") if isinstance(record, dict) else None)
    except LabelRefused as refused:
        return JSONResponse({"error": refused.message}, status_code=refused.status)
    except LabelError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"nickname": room.nickname(room.phone_session(session))}, headers={"Cache-Control": "no-store"})


def _session(value) -> str:
    if not isinstance(value, str) or not SESSION_ID.fullmatch(value):
        raise LabelError("This page's session id is damaged: reload the page.")
    return value


def _answers(value) -> None:
    """Each model's answer as the page sends it: 10 probabilities (which models: checked against those in use)."""
    if not isinstance(value, dict) or not value or not all(
            isinstance(answer, list) and len(answer) == 10
            and all(isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1 for p in answer)
            for answer in value.values()):
        raise LabelError("The models' answers are damaged: reload the page.")


def _pixels(value) -> np.ndarray:
    try:
        pixels = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer too large for a float
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
    size = _png_size(data)
    if size is None or not all(1 <= side <= MAX_CANVAS_SIDE for side in size):
        raise LabelError("The drawing's image is damaged or too large: draw it again.")
    return data


def _png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header: the signature, then the IHDR chunk, its CRC right; else None."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE):
        return None
    length, kind = struct.unpack(">I4s", data[8:16])
    if length != 13 or kind != b"IHDR" or zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        return None
    return struct.unpack(">II", data[16:24])


def join_routes(workspace: Workspace) -> list[Route]:
    """/join's routes over ``workspace``: its runs in use, its cache folder, its audience store."""
    return [
        Route("/join", partial(page, workspace=workspace)),
        Route("/join/digit", partial(digit, workspace)),
        Route("/join/assets/{digest}/{path:path}", asset),
        Route("/join/models", partial(models, workspace)),
        Route("/join/models/{digest}/{file}", partial(model_file, workspace)),
        Route("/join/label", partial(label, workspace), methods=_EVERY_METHOD),
        Route("/join/hello", hello, methods=_EVERY_METHOD),
    ]
