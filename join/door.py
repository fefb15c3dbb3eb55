"""The server's door: the presenter's key link, and what the server does while it runs.

Wraps every request the server answers (the dashboard's and /join's), before any handler:

- ``GET …?key=<the presenter's key>`` (the link printed at start, as Jupyter's ``?token=``) sets
  the key in an HttpOnly cookie and redirects to the same address without it, so the key never
  stays in the address bar, the history or a screenshot on the projector. A wrong key is dropped
  the same way, and its browser stays a participant.
- At start the server prints the presenter's link, and deletes the drawings older than the room
  keeps them (``$MNIST_AUDIENCE_KEEP``); then again every hour.

Who may do what is decided by :class:`mnist_core.room.Door` and checked where each action happens:
on the pages (dashboard/access.py) and in the routes (:func:`request_role`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import RedirectResponse

from mnist_core import room
from mnist_core.audience import AudienceStoreError, retention
from mnist_core.workspace import Workspace

RETENTION_EVERY_SECONDS = 3600  # old drawings go within the hour they fall due
_log = logging.getLogger(__name__)


def request_role(request: Request, workspace: Workspace) -> str:
    """:data:`room.PRESENTER` or :data:`room.PARTICIPANT` for an HTTP request."""
    peer = request.client.host if request.client else None
    return workspace.door().role(peer, room.is_forwarded(request.headers), request.cookies.get(room.COOKIE),
                           request.headers.get("host"))


class PresenterKeyMiddleware:
    """Trades ``?key=…`` for the presenter's cookie (pure ASGI: the websocket and other routes pass untouched)."""

    def __init__(self, app, workspace: Workspace) -> None:
        self.app, self.workspace = app, workspace

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            offered = [value for name, value in query if name == room.KEY_PARAMETER]
            if offered:
                kept = [(name, value) for name, value in query if name != room.KEY_PARAMETER]
                # Always a path on this server: "//evil.example/x" would be another site's address.
                path = "/" + (scope.get("root_path", "") + scope["path"]).lstrip("/")
                target = path + (f"?{urlencode(kept)}" if kept else "")
                response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
                door = self.workspace.door()
                if door.holds_key(offered[-1]):
                    secure = scope.get("scheme") == "https" or Headers(scope=scope).get("x-forwarded-proto") == "https"
                    response.set_cookie(room.COOKIE, door.key, max_age=room.COOKIE_DAYS * 86400, path="/",
                                        httponly=True, samesite="lax", secure=secure)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def door_lifespan(workspace: Workspace) -> Callable[[object], contextlib.AbstractAsyncContextManager[None]]:
    """The server's lifespan over ``workspace``: at start the presenter's link, then the drawings past their time
    deleted, now and hourly."""

    @contextlib.asynccontextmanager
    async def lifespan(app) -> AsyncIterator[None]:
        try:
            door = workspace.door()
            retention()  # a value that cannot be read stops the server now, not an hour into the lesson
        except (room.RoomError, ValueError) as error:
            print(f"\n  {error}\n", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        print_presenter_link(door)
        task = asyncio.create_task(_delete_old_drawings_hourly(workspace))
        try:
            yield
        finally:
            task.cancel()

    return lifespan


def print_presenter_link(door: room.Door) -> None:
    import streamlit as st

    base = os.environ.get(room.PUBLIC_URL_ENV, "").strip() or \
        f"http://{room.network_address() or 'localhost'}:{st.get_option('server.port')}"
    local = "This machine's browser is the presenter without it." if door.local_presenter else \
        f"{room.PRESENTER_MODE_ENV}=key: every browser needs it, this machine's too."
    kept = f"\n  This key lasts until the server stops: {door.not_kept}" if door.not_kept else ""
    print(f"\n  Presenter link (open it on the presenter's computer; keep it off the projector):\n"
          f"  {room.presenter_link(base, door.key)}\n  {local}{kept}\n", flush=True)


async def _delete_old_drawings_hourly(workspace: Workspace) -> None:
    while True:
        try:
            await asyncio.to_thread(delete_old_drawings, workspace)
        except Exception:  # never the end of the hourly clean-up: it tries again within the hour
            _log.exception("Old drawings not deleted this time")
        await asyncio.sleep(RETENTION_EVERY_SECONDS)


def delete_old_drawings(workspace: Workspace) -> int:
    """Delete the drawings older than the room keeps them; how many went. Never fails the server: a
    store that cannot be written now is tried again within the hour."""
    try:
        keep = retention()
        if keep is None:
            return 0
        return workspace.audience_store().delete_older_than(keep)
    except (AudienceStoreError, ValueError) as error:
        _log.warning("Old drawings not deleted this time: %s", error)
        return 0
