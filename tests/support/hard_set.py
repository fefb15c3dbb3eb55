"""A class's hard set made as a round of the game makes it (mnist_core.game): the ten hand-made digits, upright and
turned, stored with the shipped models' own answers, each misread one confirmed by a classmate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mnist_core.audience import AudienceStore
from mnist_core.game import Game
from mnist_core.predict import ModelSet
from mnist_core.preprocess import prepare_digit
from mnist_core.runs import load_model
from tests.support import PROJECT_ROOT
from tools.digit_strokes import DIGITS, render

MODELS_PLAYING = ("mlp", "cnn", "lenet5")  # the runs in use by default: the shipped checkpoints
ANGLES = (0, 35, -35, 60)  # upright digits every model reads; turned ones some misread


def shipped_models(keys=MODELS_PLAYING) -> dict:
    """The shipped checkpoints' models, by key."""
    return {key: load_model(PROJECT_ROOT / "checkpoints" / key) for key in keys}


def seed_hard_set(store: AudienceStore, models: dict | None = None) -> Game:
    """Play one round into ``store``: every digit at every angle, labelled as drawn, with ``models``' answers (the
    server's way, :meth:`ModelSet.predict_digit`); then classmates confirm each drawing offered. The game."""
    models = ModelSet(models or shipped_models())
    game = Game(store)
    game.start(minutes=5)
    labels = {}
    for digit, strokes in DIGITS.items():
        for angle in ANGLES:
            turned = Image.fromarray(render(strokes)[..., 0]).rotate(angle)
            pixels = np.round(prepare_digit(np.asarray(turned)).pixels * 255).astype(np.uint8)
            answers = {key: probabilities.tolist() for key, probabilities in models.predict_digit(pixels).items()}
            stored = store.add(label=digit, canvas_png=f"png {digit} {angle}".encode(), pixels=pixels,
                               answers=answers, runs={key: f"checkpoints/{key}" for key in answers},
                               session=f"join-drawer-{digit}")
            game.enter(stored)
            labels[stored] = digit
    for reader in range(len(labels)):  # one check each: a phone that drew nothing checks one drawing
        offer = game.offer_check(f"join-reader-{reader}")
        if offer is None:
            break
        game.answer_check(f"join-reader-{reader}", offer.id, labels[offer.id])
    game.stop()
    return game


def seeded_store(location: Path) -> AudienceStore:
    """A new SQLite store at ``location`` holding :func:`seed_hard_set`'s round."""
    from mnist_core.audience import open_audience_store

    store = open_audience_store(location)
    seed_hard_set(store)
    return store
