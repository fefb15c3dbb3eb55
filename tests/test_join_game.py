"""A round of Fool the models over HTTP, as phones play it (/join/label, /join/check, /join/game): the points come
from the server's own answers, whatever a phone claims, and a classmate's check keeps a false label out."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from mnist_core.audience import AudienceStore
from mnist_core.cli import main
from mnist_core.game import Game
from mnist_core.preprocess import prepare_digit
from mnist_core.room import nickname, phone_session
from tests.test_join import get, post
from tools.digit_strokes import DIGITS, render


def canvas_png(canvas: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def send(join_app, listing: dict, phone: str, digit: int, label: int, claimed: int) -> tuple[int, dict]:
    """Phone ``phone`` draws ``digit`` (hand-made strokes), labels it ``label``, and claims every model read
    ``claimed``."""
    canvas = render(DIGITS[digit])
    pixels = [round(255 * float(value)) for value in prepare_digit(canvas).pixels.ravel()]
    said = [0.0] * 10
    said[claimed] = 1.0
    body = {"session": phone, "label": label, "models": listing["version"], "canvas": canvas_png(canvas),
            "pixels": pixels, "answers": {model["key"]: said for model in listing["models"]}}
    return post(join_app, "/join/label", json.dumps(body).encode())


def server_reads(join_app, drawing_id: int) -> dict[str, int]:
    return AudienceStore(join_app.audience).by_ids([drawing_id])[0].answers


def check(join_app, phone: str) -> tuple[int, dict | None]:
    status, _, body = get(join_app, f"/join/check?session={phone}")
    return status, json.loads(body) if status == 200 else None


def answer(join_app, phone: str, drawing: int, digit) -> tuple[int, dict]:
    return post(join_app, "/join/check", json.dumps({"session": phone, "id": drawing, "digit": digit}).encode())


def state(join_app, phone: str) -> dict:
    status, _, body = get(join_app, f"/join/game?session={phone}")
    assert status == 200
    return json.loads(body)


@pytest.mark.slow
def test_a_round_scores_the_servers_answers_and_the_classmates_reading(join_app, capsys):
    store = AudienceStore(join_app.audience)
    store.clear()
    listing = json.loads(get(join_app, "/join/models")[2])
    keys = [model["key"] for model in listing["models"]]
    assert state(join_app, "phone-a")["round"] is None
    # Outside a round nothing takes part.
    status, reply = send(join_app, listing, "phone-a", 3, 3, 3)
    assert status == 200 and check(join_app, "phone-b") == (204, None)

    Game(store).start(minutes=5)
    # Phone A draws a 7 and says it is a 1, claiming the models read a 1 (a lie both ways): the server reads 7.
    status, reply = send(join_app, listing, "phone-a", 7, 1, 1)
    fooling = reply["stored"]
    read = server_reads(join_app, fooling)
    assert status == 200 and set(read) == set(keys) and all(digit != 1 for digit in read.values())
    # Phone A draws a clear 0, labels it 0, and claims every model read 5: the server's models read it right.
    status, honest = send(join_app, listing, "phone-a", 0, 0, 5)
    assert status == 200 and honest["agreed"] is False
    assert all(digit == 0 for digit in server_reads(join_app, honest["stored"]).values())

    assert check(join_app, "phone-a") == (204, None)  # never one's own drawing
    status, offer = check(join_app, "phone-b")
    assert status == 200 and offer["id"] == fooling and set(offer) == {"id", "canvas"}  # no label, no answers
    assert offer["canvas"].startswith("data:image/png;base64,")
    assert answer(join_app, "phone-c", fooling, 1)[0] == 409  # not offered to phone C
    assert answer(join_app, "phone-b", fooling, 11)[0] == 400
    assert answer(join_app, "phone-b", fooling, 1) == (200, {"checked": True})  # phone B reads the 1 A claimed
    assert answer(join_app, "phone-b", fooling, 1)[0] == 409  # once

    points = len([key for key in keys if read[key] != 1])
    mine = state(join_app, "phone-a")
    assert mine["round"]["running"] and mine["points"] == points and mine["nickname"] == nickname(
        phone_session("phone-a"))
    assert sum(mine["fooled"].values()) == points
    assert state(join_app, "phone-b")["points"] == 0

    # Phone C draws a clear 4 and labels it 9: phone B (who has drawn one now) reads the 4. No points.
    send(join_app, listing, "phone-b", 2, 2, 2)
    status, lie = send(join_app, listing, "phone-c", 4, 9, 4)
    status, offer = check(join_app, "phone-b")
    assert offer["id"] == lie["stored"]
    assert answer(join_app, "phone-b", lie["stored"], 4)[0] == 200
    assert state(join_app, "phone-c")["points"] == 0

    assert main(["audience", "game", "--json", "--db", str(join_app.audience)]) == 0
    shape = json.loads(capsys.readouterr().out)
    assert shape["players"] == [{"nickname": nickname(phone_session("phone-a")), "session": phone_session("phone-a"),
                                 "points": points}]
    assert {model["key"]: model["fooled"] for model in shape["models"]} == {
        key: int(read[key] != 1) for key in keys} and shape["hard_set"] == 1
    assert [drawing.id for drawing in Game(store).hard_set()] == [fooling]


def test_game_requests_that_are_not_a_phones_are_refused(join_app):
    assert get(join_app, "/join/game")[0] == 400
    assert get(join_app, "/join/check?session=" + "x" * 200)[0] == 400
    reply = join_app.client.post("/join/check", content=b"{}", headers={"Content-Type": "text/plain"})
    assert reply.status_code == 415
    reply = join_app.client.post("/join/check", content=b'{"session": "a", "id": 1, "digit": 1}',
                                 headers={"Content-Type": "application/json", "Origin": "http://evil.example"})
    assert reply.status_code == 403
    assert join_app.client.put("/join/check").status_code == 405
    assert post(join_app, "/join/check", b'{"session": "a", "id": "1", "digit": 1}')[0] == 400
