"""/join's side of the game (mnist_core.game): what a phone asks during a round.

    GET  /join/game?session=S          {"round": {...} | null, "points", "fooled": {model key: n}, "nickname"}
    GET  /join/check?session=S         {"id", "canvas"}: a classmate's drawing to read (204: none now)
    POST /join/check                   {"session", "id", "digit"} → {"checked": true}

``session`` is the secret the phone keeps; the store knows only its digest (mnist_core.room.phone_session).
A check shows the drawing alone: never its label, its drawer or the models' answers.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from join.limits import LabelRefused
from join.routes import _EVERY_METHOD, LabelError, _capped_body, _check_sender, _session
from mnist_core import room
from mnist_core.audience import AudienceStoreError
from mnist_core.game import Game, GameError
from mnist_core.workspace import Workspace

_NO_STORE = {"Cache-Control": "no-store"}


def game_state(workspace: Workspace, secret: str) -> dict:
    """What phone ``secret`` shows of the game: the round, its points and which models it fooled."""
    game = Game(workspace.audience_store())
    latest, me = game.latest(), game.score_of(room.phone_session(secret))
    return {"round": None if latest is None else latest.to_json(datetime.now(UTC)), "points": me.points,
            "fooled": me.fooled, "nickname": me.nickname}


async def game(workspace: Workspace, request: Request) -> Response:
    try:
        secret = _session(request.query_params.get("session"))
        return JSONResponse(await run_in_threadpool(game_state, workspace, secret), headers=_NO_STORE)
    except LabelError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    except AudienceStoreError as error:
        return JSONResponse({"error": f"The game cannot be read just now ({error}); this page asks again in a few "
                                      "seconds."}, status_code=503)


def offer(workspace: Workspace, secret: str) -> dict | None:
    found = Game(workspace.audience_store()).offer_check(room.phone_session(secret))
    if found is None:
        return None
    # "canvas": the name the page reads; the image is the 28x28 digit the models scored (mnist_core.game)
    return {"id": found.id, "canvas": "data:image/png;base64," + base64.b64encode(found.digit_png).decode("ascii")}


def answer(workspace: Workspace, body: bytes) -> None:
    try:
        record = json.loads(body)
    except (ValueError, RecursionError):
        raise LabelError("The page sent something that is not an answer: reload it.") from None
    if not isinstance(record, dict):
        raise LabelError("The page sent something that is not an answer: reload it.")
    secret = _session(record.get("session"))
    drawing, digit = record.get("id"), record.get("digit")
    if type(drawing) is not int or type(digit) is not int or not 0 <= digit <= 9:
        raise LabelError("An answer names a drawing and a digit from 0 to 9.")
    Game(workspace.audience_store()).answer_check(room.phone_session(secret), drawing, digit)


async def check(workspace: Workspace, request: Request) -> Response:
    try:
        if request.method == "GET":
            found = await run_in_threadpool(offer, workspace, _session(request.query_params.get("session")))
            return Response(status_code=204, headers=_NO_STORE) if found is None else \
                JSONResponse(found, headers=_NO_STORE)
        if request.method != "POST":
            return JSONResponse({"error": "Ask for a check with GET, answer it with POST."}, status_code=405,
                                headers={"Allow": "GET, POST"})
        _check_sender(request)
        body = await _capped_body(request)
        await run_in_threadpool(answer, workspace, body)
    except LabelRefused as refused:
        return JSONResponse({"error": refused.message}, status_code=refused.status)
    except (LabelError, GameError) as error:
        return JSONResponse({"error": str(error)}, status_code=409 if isinstance(error, GameError) else 400)
    except AudienceStoreError as error:
        what = "No drawing to check can be found" if request.method == "GET" else "The answer cannot be stored"
        return JSONResponse({"error": f"{what} just now ({error}): press the digit again in a moment."},
                            status_code=503)
    return JSONResponse({"checked": True}, headers=_NO_STORE)


def game_routes(workspace: Workspace) -> list[Route]:
    """The game's routes over ``workspace``'s audience store."""
    return [
        Route("/join/game", partial(game, workspace)),
        Route("/join/check", partial(check, workspace), methods=_EVERY_METHOD),
    ]
