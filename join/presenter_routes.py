"""The presenter's HTTP routes: the room's drawings as a ZIP, streamed.

    GET /audience/export.zip   every drawing not hidden as a PNG, and labels.csv; the class's hard set (the
                               game's) as hard-set/: its 28x28 digits as PNGs, and labels.csv (the presenter only)

The ZIP is written while it is sent, a few drawings at a time, by one thread that holds the store's
connection (SQLite's connections stay in their thread): a store of 50,000 drawings never sits in
memory, and the first bytes leave at once. A participant gets 403, whatever link they found.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import queue
import threading
import zipfile
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from join.door import request_role
from mnist_core import room
from mnist_core.audience import AudienceStore, AudienceStoreError, damaged_skipped, encode_png
from mnist_core.game import Game
from mnist_core.models import MODEL_KEYS
from mnist_core.workspace import Workspace

CHUNK_BYTES = 256 * 1024  # what the writer hands over at a time: a few dozen drawings
_QUEUE_CHUNKS = 8  # at most ~2 MB waits for a slow download; the writer pauses meanwhile
_ABANDONED_SECONDS = 60  # a download nobody reads any more: the writer gives up and closes the store
_log = logging.getLogger(__name__)


def export_name(now: datetime | None = None) -> str:
    return f"audience-{(now or datetime.now(UTC)).strftime('%Y-%m-%d-%H%M')}.zip"


async def export_zip(workspace: Workspace, request: Request) -> Response:
    if request_role(request, workspace) != room.PRESENTER:
        return PlainTextResponse("Only the presenter can export the room's drawings.", status_code=403)
    store = workspace.audience_store()
    return StreamingResponse(_streamed(store), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{export_name()}"', "Cache-Control": "no-store"})


async def _streamed(store: AudienceStore) -> AsyncIterator[bytes]:
    chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    stop = threading.Event()
    threading.Thread(target=_write_zip, args=(store, chunks, stop), daemon=True, name="audience-export").start()
    try:
        while (chunk := await asyncio.to_thread(chunks.get)) is not None:
            yield chunk
    finally:
        stop.set()  # the download ended or was abandoned: the writer stops at its next chunk
        with suppress(queue.Full):
            chunks.put_nowait(None)  # and a reader thread still waiting on the queue is let go


class _Chunks(io.RawIOBase):
    """A file zipfile writes into (unseekable: it writes each entry's sizes after its data)."""

    def __init__(self, chunks: queue.Queue, stop: threading.Event) -> None:
        self.buffer, self.chunks, self.stop = bytearray(), chunks, stop

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        if len(self.buffer) >= CHUNK_BYTES:
            self.hand_over()
        return len(data)

    def hand_over(self) -> None:
        if self.buffer:
            self._put(bytes(self.buffer))
            self.buffer.clear()

    def _put(self, item: bytes | None) -> None:
        if self.stop.is_set():
            raise _Abandoned
        try:
            self.chunks.put(item, timeout=_ABANDONED_SECONDS)
        except queue.Full:
            raise _Abandoned from None


class _Abandoned(Exception):
    pass


def _write_zip(store: AudienceStore, chunks: queue.Queue, stop: threading.Event) -> None:
    sink = _Chunks(chunks, stop)
    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs do not compress
            try:
                damaged = 0
                for name, data in store.export_files():
                    if name is None:
                        damaged += 1
                    else:
                        archive.writestr(f"audience/{name}", data)
                if damaged:
                    archive.writestr("audience/DAMAGED.txt", f"{damaged_skipped(damaged, export=True)}.\n")
                _write_hard_set(archive, store)
            except AudienceStoreError as error:
                archive.writestr("audience/ERROR.txt", f"The drawings could not be exported: {error}\n")
        sink.hand_over()
    except _Abandoned:
        pass
    except Exception:  # a disk error mid-way: the download ends short (the browser says it failed), the server goes on
        _log.exception("The audience export stopped")
    finally:
        with suppress(queue.Full):
            chunks.put(None, timeout=0 if stop.is_set() else _ABANDONED_SECONDS)  # the end: the reader stops


def _write_hard_set(archive: zipfile.ZipFile, store: AudienceStore) -> None:
    """The class's hard set (mnist_core.game), a test set: each drawing's 28x28 digit as a PNG, and labels.csv
    (file, label, each model's answer). Nothing when it is empty."""
    drawings = Game(store).hard_set()
    if not drawings:
        return
    answered = {key for drawing in drawings for key in drawing.answers}
    keys = [key for key in MODEL_KEYS if key in answered] + sorted(answered - set(MODEL_KEYS))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["file", "label", *(f"{key}_answer" for key in keys)])
    for drawing in drawings:
        name = f"drawing-{drawing.id:06d}.png"
        archive.writestr(f"hard-set/{name}", encode_png(drawing.pixels))
        writer.writerow([name, drawing.label, *(drawing.answers.get(key, "") for key in keys)])
    archive.writestr("hard-set/labels.csv", text.getvalue())


def presenter_routes(workspace: Workspace) -> list[Route]:
    """The presenter's routes over ``workspace``'s audience store."""
    return [Route("/audience/export.zip", partial(export_zip, workspace), methods=["GET"])]
