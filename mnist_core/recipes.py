"""Training settings: the :class:`TrainConfig` dataclass, the two recipes' names and their checks
(each model's recipes live in its registry entry, :mod:`mnist_core.models`, which imports this
module; this one imports nothing of the library).

Kept apart from the training loop so that the command line and the app can list and check
settings without importing PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

RECIPES = ("best", "tutorial")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "onecycle")
MAX_VALIDATION = 30_000  # at most half of MNIST's 60,000 training images held out
BEST_VALIDATION = 5_000  # the best recipe's held-out training images
MAX_SEED = 2**32 - 1  # the largest seed every generator seeded from it (torch, NumPy) takes
MAX_SEED_GROUP_RUNS = 1_000  # runs (models × seeds) in one train --seeds: 200 seeds of each model; more is a typo


@dataclass(frozen=True)
class TrainConfig:
    """How to train one model. Build one with :func:`mnist_core.models.recipe_config` and override fields."""

    recipe: str = "best"
    epochs: int = 10
    batch_size: int = 100
    optimizer: str = "adamw"  # one of OPTIMIZERS
    learning_rate: float = 1e-3  # the peak rate under "onecycle"
    weight_decay: float = 0.0
    momentum: float = 0.0  # SGD only
    schedule: str = "constant"  # "onecycle": warm up to learning_rate, then anneal to ~0
    warmup_epochs: float = 0.0  # "onecycle": epochs of warm-up (0: a fifth of the epochs; at most 30 % of them)
    augment: bool = False  # random affine (rotation, scale, shear, shift), batch-wise
    thinner: float = 0.0  # random thinning of strokes by up to this many pixel steps (grey-level erosion) ...
    thicker: float = 0.0  # ... or thickening by up to this many (dilation); each image its own, batch-wise
    as_drawn: float = 0.0  # show this fraction of each batch as the canvas would give it (even strokes, drawn.as_drawn)
    average: float = 0.0  # decay of an exponential moving average of the weights (0: none); it is saved
    label_smoothing: float = 0.0
    seed: int = 0  # 0 to MAX_SEED
    group: str = ""  # the seed group a run was trained in (train --seeds), e.g. "best-20261203-121000"
    device: str = "auto"  # "auto": CUDA (or Apple MPS) when present, else CPU
    train_subset: int | None = None  # train on this many random training images (None: all of them)
    validation: int = 0  # hold out this many training images (always the same ones) to choose settings on

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})


def check_config(config: TrainConfig) -> None:
    problems = []
    if not 0 <= config.seed <= MAX_SEED:
        problems.append(f"seed must be a whole number from 0 to {MAX_SEED:,}")
    if config.recipe not in RECIPES:
        problems.append(f"recipe must be one of {', '.join(RECIPES)}")
    if config.optimizer not in OPTIMIZERS:
        problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
    if config.schedule not in SCHEDULES:
        problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
    if not 1 <= config.epochs <= 1000:
        problems.append("epochs must be between 1 and 1000")
    if not 1 <= config.batch_size <= 60000:
        problems.append("batch size must be between 1 and 60000")
    if not (config.learning_rate > 0 and math.isfinite(config.learning_rate)):
        problems.append("learning rate must be a positive number")
    if not 0 <= config.validation <= MAX_VALIDATION:
        problems.append(f"validation images must be between 0 and {MAX_VALIDATION:,}")
    if not (0 <= config.thinner <= 3 and 0 <= config.thicker <= 3):
        problems.append("stroke thinning and thickening must be between 0 and 3 pixel steps")
    if not 0 <= config.as_drawn <= 1:
        problems.append("the fraction shown as drawn must be between 0 and 1")
    if not 0 <= config.warmup_epochs <= 1000:
        problems.append("warm-up epochs must be between 0 and 1000")
    if not 0 <= config.average < 1:
        problems.append("the weight average's decay must be at least 0 and below 1")
    if config.train_subset is not None and config.train_subset < 1:
        problems.append("the training subset needs at least one image")
    if problems:
        raise ValueError("Invalid training settings: " + "; ".join(problems) + ".")

