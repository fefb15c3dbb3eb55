"""Teach the models with the class's drawings: fine-tune each model in use, then say honestly what changed.

"Retrain it when it guesses wrong" is what every drawing demo is asked. Here the run in use of each model is
trained a little further on the class's drawings (not hidden, not damaged), each batch mixed with MNIST training
images so that nothing is forgotten, and saved as a new run, ``<model>-class-<time>``.

Honest before/after: whole phones (sessions) are held out, about 30 % of them and at least three, and never
trained on; the report gives, before and after, the accuracy on their drawings (with McNemar's test between the
two runs) and on the 10,000 MNIST test images. A run whose MNIST test accuracy drops more than
:data:`MAX_MNIST_DROP` points is refused, and nothing is saved. The new run records which drawings it saw (a
SHA-256 of their ids in the store) beside the numbers of its report.

Several models are fine-tuned as Ray tasks, one per model, as seed groups are (``$RAY_ADDRESS`` for a cluster);
the app queues one :class:`FinetuneJob` on its job board, with progress, like a training.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .comparison import compare_predictions
from .jobs import FAILED, RUNNING, SAVED, STOPPED, TrainingJob
from .models import MODELS
from .recipes import TrainConfig
from .runs import RunError, RunInfo, save_new_run

if TYPE_CHECKING:
    from torch import nn

    from .audience import AudienceStore, Drawing
    from .data import MnistData
    from .evaluation import Evaluation
    from .training import EpochStats, TrainingProgress

RECIPE = "class"  # the new runs' folders: <model>-class-<time>
HELD_OUT_SHARE = 0.3  # of the sessions (phones), held out whole to test on
MIN_HELD_OUT = 3  # sessions held out at the least: one phone's handwriting is no test
MIN_SESSIONS = 4  # three held out and one to learn from, at the least
MIN_PER_DIGIT = 10  # drawings of each digit: fewer teach a model little and test it less
MAX_MNIST_DROP = 0.15  # percentage points of MNIST test accuracy a fine-tuned run may lose; more: refused


class NotEnoughDrawings(ValueError):
    """Too few drawings, or from too few phones, to fine-tune and still test honestly; the message says what
    to do."""


@dataclass(frozen=True)
class FinetuneConfig:
    """How a run in use is trained further on the class's drawings."""

    epochs: int = 3  # each a pass over ``mnist_images`` MNIST training images, every batch mixed with drawings
    batch_size: int = 128
    learning_rate: float = 3e-4  # AdamW's peak (one cycle): a seventh of the best recipe's, the weights move little
    weight_decay: float = 0.0
    class_share: float = 0.25  # of each batch: the class's drawings (drawn again at random, augmented)
    mnist_images: int = 15_000  # MNIST training images per epoch, a new random choice each epoch
    augment: bool = True  # random affine and stroke thickness, on both, as the best recipe trains
    average: float = 0.99  # decay of the moving average of the weights that is kept (0: the last weights)
    label_smoothing: float = 0.05  # as the best recipe
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FinetuneConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def check(self) -> None:
        problems = []
        if not 1 <= self.epochs <= 100:
            problems.append("epochs must be between 1 and 100")
        if not 2 <= self.batch_size <= 4096:
            problems.append("the batch size must be between 2 and 4096")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            problems.append("the learning rate must be a positive number")
        if not 0 < self.class_share < 1:
            problems.append("the drawings' share of a batch must be above 0 and below 1")
        if not 1 <= self.mnist_images <= 60_000:
            problems.append("MNIST images per epoch must be between 1 and 60,000")
        if not 0 <= self.average < 1:
            problems.append("the weight average's decay must be at least 0 and below 1")
        if problems:
            raise ValueError("Invalid fine-tuning settings: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class DrawingSet:
    """Labelled 28x28 drawings as the models saw them."""

    ids: np.ndarray  # (N,) the store's ids
    pixels: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    sessions: tuple[str, ...]  # (N,) the session each came from

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class ClassSplit:
    """The class's drawings, split by phone: those to learn from, and the held-out phones' to test on."""

    train: DrawingSet
    held_out: DrawingSet
    held_out_sessions: tuple[str, ...]
    train_sessions: tuple[str, ...]

    @property
    def digest(self) -> str:
        """SHA-256 of the ids of the drawings trained on (sorted, comma-separated): what a run records."""
        return ids_digest(self.train.ids)


def ids_digest(ids: Sequence[int] | np.ndarray) -> str:
    return hashlib.sha256(",".join(str(int(i)) for i in sorted(np.asarray(ids).tolist())).encode()).hexdigest()


def class_drawings(store: AudienceStore) -> tuple[list[Drawing], int]:
    """The drawings the models may be taught with, and how many were left out as unconfirmed: every readable
    drawing the presenter has not hidden, except a *Fool the models* round's drawings that fooled a model and
    that no classmate has read as their label (:meth:`mnist_core.game.Game.unconfirmed_fooling_ids`)."""
    from .game import Game

    unconfirmed = Game(store).unconfirmed_fooling_ids()
    drawings = store.drawings()
    taught = [drawing for drawing in drawings if drawing.id not in unconfirmed]
    return taught, len(drawings) - len(taught)


def split_by_session(drawings: Sequence[Drawing], share: float = HELD_OUT_SHARE, minimum: int = MIN_HELD_OUT,
                     seed: int = 0, unconfirmed: int = 0) -> ClassSplit:
    """Hold out whole sessions: ``share`` of them (at least ``minimum``), chosen at random by ``seed``.

    ``drawings``: what :func:`class_drawings` returns (hidden, damaged and unconfirmed fooling ones are not
    among them); ``unconfirmed``: how many of those it left out, which a message of too few drawings says.

    Raises:
        NotEnoughDrawings: fewer than :data:`MIN_SESSIONS` sessions, or fewer than :data:`MIN_PER_DIGIT`
            drawings of some digit.
    """
    sessions = sorted({drawing.session for drawing in drawings})
    per_digit = np.bincount([drawing.label for drawing in drawings], minlength=10)
    if len(sessions) < max(MIN_SESSIONS, minimum + 1) or per_digit.min() < MIN_PER_DIGIT:
        fewest = int(per_digit.argmin())
        raise NotEnoughDrawings(
            f"Too few drawings to teach the models: {len(drawings):,} from {len(sessions)} phone"
            f"{'s' if len(sessions) != 1 else ''} (the fewest: {per_digit[fewest]} of the digit {fewest}). It takes at "
            f"least {MIN_PER_DIGIT} of each digit from at least {max(MIN_SESSIONS, minimum + 1)} phones, "
            f"{minimum} of them kept aside to test on: ask the class to draw more on /join."
            + (f" ({unconfirmed:,} Fool-the-models drawing{'s' if unconfirmed != 1 else ''} that no classmate has "
               "confirmed are left out.)" if unconfirmed else ""))
    held = min(len(sessions) - 1, max(minimum, round(share * len(sessions))))
    order = np.random.default_rng(seed).permutation(len(sessions))
    held_out = tuple(sorted(sessions[i] for i in order[:held]))
    chosen = set(held_out)
    return ClassSplit(_drawing_set([d for d in drawings if d.session not in chosen]),
                      _drawing_set([d for d in drawings if d.session in chosen]),
                      held_out, tuple(sorted(set(sessions) - chosen)))


def _drawing_set(drawings: Sequence[Drawing]) -> DrawingSet:
    return DrawingSet(np.array([d.id for d in drawings], dtype=np.int64),
                      np.stack([d.pixels for d in drawings]).astype(np.uint8) if drawings
                      else np.zeros((0, 28, 28), np.uint8),
                      np.array([d.label for d in drawings], dtype=np.int64), tuple(d.session for d in drawings))


@dataclass
class FinetuneResult:
    """A fine-tuned model and how it and its starting run read the held-out drawings and the MNIST test set."""

    model_key: str
    model: nn.Module | dict  # in eval mode (a state dict when it comes back from a Ray task)
    config: FinetuneConfig
    history: list[EpochStats] = field(default_factory=list)
    held_out_before: np.ndarray | None = None  # (N,) the starting run's answers on the held-out drawings
    held_out_after: np.ndarray | None = None
    mnist_before: Evaluation | None = None  # on the test split
    mnist_after: Evaluation | None = None
    training_seconds: float = 0.0
    train_images: int = 0  # MNIST images and drawings it was shown, counted once each
    stopped: bool = False


@dataclass(frozen=True)
class FinetuneReport:
    """One model's before and after; ``run`` is None when it was refused (``refused`` says why) or failed."""

    model_key: str
    from_run: str  # the run it started from (its folder's name)
    run: Path | None
    held_out: int  # held-out drawings
    held_out_sessions: int
    held_out_before: float
    held_out_after: float
    mcnemar_p: float
    mnist_before: float
    mnist_after: float
    refused: str = ""

    def to_json(self, shown: Callable[[Path], str] = str) -> dict:
        """The entry of ``audience finetune --json``'s ``runs`` (with ``refused`` only when it was)."""
        entry = {"model": self.model_key, "from_run": self.from_run,
                 "run": shown(self.run) if self.run is not None else None,
                 "held_out": {"n": self.held_out, "before": round(self.held_out_before, 6),
                              "after": round(self.held_out_after, 6), "mcnemar_p": round(self.mcnemar_p, 6)},
                 "mnist_test": {"before": round(self.mnist_before, 6), "after": round(self.mnist_after, 6)}}
        return {**entry, "refused": self.refused} if self.refused else entry

    def sentence(self) -> str:
        """E.g. "CNN: 84 % → 93 % on the drawings of 9 phones it never saw; MNIST test 99.28 % → 99.25 %"."""
        before, after = _percent(self.held_out_before, self.held_out_after)
        phones = f"{self.held_out_sessions} phone{'s' if self.held_out_sessions != 1 else ''}"
        text = (f"{MODELS[self.model_key].name if self.model_key in MODELS else self.model_key}: {before} → {after} "
                f"on the drawings of {phones} it never saw; MNIST test {100 * self.mnist_before:.2f} % → "
                f"{100 * self.mnist_after:.2f} %")
        return text + (f". Refused: {self.refused}" if self.refused else "")


def _percent(before: float, after: float) -> tuple[str, str]:
    """Whole percents, unless they would hide the change (then one decimal)."""
    digits = 0 if round(100 * before) != round(100 * after) or before == after else 1
    return f"{100 * before:.{digits}f} %", f"{100 * after:.{digits}f} %"


def finetune_model(model_key: str, start: nn.Module | dict, split: ClassSplit, data: MnistData,
                   config: FinetuneConfig = FinetuneConfig(),
                   on_progress: Callable[[TrainingProgress], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> FinetuneResult:
    """Train a copy of ``start`` (a model of ``model_key``, or its state dict) further on ``split.train`` mixed
    with MNIST training images, and measure it and ``start`` on ``split.held_out`` and the MNIST test split.

    Only the held-out drawings' labels and MNIST's test split are ever measured on; nothing of the held-out
    phones reaches training. ``on_progress`` and ``should_stop`` are as for
    :func:`mnist_core.training.train_model` (stopped: ``result.stopped``, nothing measured after).
    """
    import torch
    from torch.nn import functional as F

    from .data import normalize
    from .evaluation import evaluation_from_logits, predict_logits
    from .models import build_model
    from .networks import preferred_memory_format
    from .training import EpochStats, TrainingProgress, WeightAverage, random_affine, random_thickness

    config.check()
    if len(split.train) == 0:
        raise NotEnoughDrawings("No drawings left to learn from once the held-out phones are set aside.")
    torch.manual_seed(config.seed)  # dropout
    generator = torch.Generator().manual_seed(config.seed)  # the batches and their augmentation
    state = start if isinstance(start, dict) else start.state_dict()
    model = build_model(model_key)
    model.load_state_dict({name: tensor.detach().clone() for name, tensor in state.items()})
    model = model.to(memory_format=preferred_memory_format(model, torch.device("cpu"))).requires_grad_(True)

    held_inputs = normalize(torch.from_numpy(split.held_out.pixels))
    test_inputs = normalize(data.test_images)
    class_inputs = normalize(torch.from_numpy(split.train.pixels))
    class_labels = torch.from_numpy(split.train.labels)
    result = FinetuneResult(model_key, model, config)
    result.held_out_before = predict_logits(model, held_inputs).argmax(dim=1).numpy()
    result.mnist_before = evaluation_from_logits(predict_logits(model, test_inputs), data.test_labels)

    drawn_per_batch = max(1, round(config.batch_size * config.class_share))
    mnist_per_batch = config.batch_size - drawn_per_batch
    mnist_count = min(config.mnist_images, len(data.train_labels))
    batches = math.ceil(mnist_count / mnist_per_batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, epochs=config.epochs,
                                                    steps_per_epoch=batches, pct_start=0.1)
    average = WeightAverage(model, config.average) if config.average else None
    evaluated = average.model if average is not None else model
    result.model = evaluated
    seen_mnist = torch.zeros(len(data.train_labels), dtype=torch.bool)
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        model.train()
        mnist_order = torch.randperm(len(data.train_labels), generator=generator)[:mnist_count]
        seen_mnist[mnist_order] = True
        loss_sum, correct, shown = 0.0, 0, 0
        for batch in range(batches):
            if should_stop is not None and should_stop():
                result.stopped = True
                break
            mnist_index = mnist_order[batch * mnist_per_batch:(batch + 1) * mnist_per_batch]
            drawn_index = torch.randint(len(class_labels), (drawn_per_batch,), generator=generator)
            inputs = torch.cat([normalize(data.train_images[mnist_index]), class_inputs[drawn_index]])
            labels = torch.cat([data.train_labels[mnist_index], class_labels[drawn_index]])
            if config.augment:
                inputs = random_affine(random_thickness(inputs, generator, 0.5, 0.5), generator)
            logits = model(inputs)
            loss = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update(model)
            loss_sum += float(loss.detach()) * len(labels)
            correct += int((logits.detach().argmax(dim=1) == labels).sum())
            shown += len(labels)
            if on_progress is not None:
                on_progress(TrainingProgress(model_key, epoch, config.epochs, batch + 1, batches, loss_sum / shown,
                                             tuple(result.history), False))
        if result.stopped:
            break
        seconds = time.perf_counter() - started
        result.training_seconds += seconds
        result.mnist_after = evaluation_from_logits(predict_logits(evaluated, test_inputs), data.test_labels)
        result.history.append(EpochStats(epoch, loss_sum / shown, correct / shown, result.mnist_after.loss,
                                         result.mnist_after.accuracy, seconds))
        if on_progress is not None:
            on_progress(TrainingProgress(model_key, epoch, config.epochs, batches, batches, loss_sum / shown,
                                         tuple(result.history), True))
    model.eval()
    evaluated.eval().requires_grad_(False)
    if not result.stopped:
        result.held_out_after = predict_logits(evaluated, held_inputs).argmax(dim=1).numpy()
    result.train_images = int(seen_mnist.sum()) + len(split.train)
    return result


def keep_or_refuse(result: FinetuneResult, start: RunInfo, split: ClassSplit, out: str | Path) -> FinetuneReport:
    """Save ``result`` as a new run in ``out`` (``<model>-class-<time>``), or refuse it when its MNIST test
    accuracy fell more than :data:`MAX_MNIST_DROP` points below ``start``'s; the report says which.

    Raises:
        RunError: the run could not be saved (its message says where it went instead).
    """
    from .models import build_model

    truth = split.held_out.labels
    paired = compare_predictions(truth, result.held_out_before, result.held_out_after)
    before, after = result.mnist_before.accuracy, result.mnist_after.accuracy
    report = FinetuneReport(
        result.model_key, start.run_id, None, len(truth), len(split.held_out_sessions),
        float((result.held_out_before == truth).mean()), float((result.held_out_after == truth).mean()),
        paired.mcnemar_p, before, after)
    drop = 100 * (before - after)
    if drop > MAX_MNIST_DROP + 1e-9:
        return _replace(report, refused=f"its MNIST test accuracy fell {drop:.2f} points ({100 * before:.2f} % → "
                                        f"{100 * after:.2f} %; at most {MAX_MNIST_DROP} are allowed), so it was not "
                                        "saved.")
    # Saved from a fresh copy of the network: a state dict back from a Ray task, or weights frozen after training
    # (a run counts the parameters that train).
    model = build_model(result.model_key)
    model.load_state_dict(result.model if isinstance(result.model, dict) else result.model.state_dict())
    record = {"recipe": RECIPE, **{key: value for key, value in result.config.to_dict().items()},
              "from_run": start.run_id[:200], "from_weights_sha256": start.weights_sha256,
              "class_drawings": len(split.train), "class_sessions": len(split.train_sessions),
              "class_drawings_sha256": split.digest,
              "held_out_sessions": report.held_out_sessions, "held_out_drawings": report.held_out,
              "held_out_sha256": ids_digest(split.held_out.ids),
              "held_out_before": round(report.held_out_before, 6), "held_out_after": round(report.held_out_after, 6),
              "held_out_mcnemar_p": round(report.mcnemar_p, 6),
              "mnist_test_before": round(before, 6), "mnist_test_after": round(after, 6)}
    saved = save_new_run(out, RECIPE, model_key=result.model_key, model=model, config=record,
                         history=[row.to_dict() for row in result.history], evaluation=result.mnist_after,
                         training_seconds=result.training_seconds, train_images=result.train_images)
    return _replace(report, run=saved.path)


def _replace(report: FinetuneReport, **changes) -> FinetuneReport:
    from dataclasses import replace

    return replace(report, **changes)


def report_of_run(run: RunInfo) -> FinetuneReport | None:
    """The report a class run recorded in its run.json (None: not a class run, or one without its numbers)."""
    config = run.config
    try:
        return FinetuneReport(run.model_key, str(config["from_run"]), run.path, int(config["held_out_drawings"]),
                              int(config["held_out_sessions"]), float(config["held_out_before"]),
                              float(config["held_out_after"]), float(config["held_out_mcnemar_p"]),
                              float(config["mnist_test_before"]), float(config["mnist_test_after"]))
    except (KeyError, TypeError, ValueError):
        return None


def latest_class_runs(runs: Sequence[RunInfo]) -> list[FinetuneReport]:
    """Each model's newest class run, as its report, in the registry's order."""
    newest: dict[str, RunInfo] = {}
    for run in runs:
        if run.recipe == RECIPE and (run.model_key not in newest or run.created > newest[run.model_key].created):
            newest[run.model_key] = run
    reports = [report_of_run(newest[key]) for key in MODELS if key in newest]
    return [report for report in reports if report is not None]


# --- several models: Ray tasks, as seed groups ----------------------------------------------------

def finetune_task(model_key: str, state: dict, split: ClassSplit, data_dir: str | None, config: dict,
                  threads: int) -> FinetuneResult:
    """The Ray task: fine-tune one model in a worker process; the model comes back as its state dict."""
    import torch

    from .data import load_mnist
    from .models import load_user_models

    torch.set_num_threads(threads)
    load_user_models()
    data = load_mnist(data_dir, download=False)
    result = finetune_model(model_key, state, split, data, FinetuneConfig.from_dict(config))
    result.model = {name: tensor.detach().cpu() for name, tensor in result.model.state_dict().items()}
    return result


def finetune_on_ray(starts: dict[str, RunInfo], split: ClassSplit, data_dir: str | None, out: str | Path,
                    config: FinetuneConfig = FinetuneConfig(), address: str | None = None,
                    on_finished: Callable[[str, FinetuneReport | str], None] = lambda key, outcome: None
                    ) -> list[FinetuneReport | str]:
    """Fine-tune each of ``starts`` (model key → run in use) as one Ray task, on this machine's cores or the
    cluster at ``address`` (default ``$RAY_ADDRESS``), and keep or refuse each as it finishes
    (:func:`keep_or_refuse`); ``on_finished(key, report or error message)``. Returns them in ``starts``' order.

    Raises:
        ValueError: the cluster cannot be reached (as :func:`mnist_core.seed_groups.ray_session`).
    """
    import ray

    from .runs import load_model
    from .seed_groups import ray_session

    outcomes: dict[str, FinetuneReport | str] = {}
    with ray_session(address):
        cores = max(1, int(ray.cluster_resources().get("CPU", 1)))
        threads = max(1, cores // len(starts))
        remote = ray.remote(num_cpus=threads, max_retries=0)(finetune_task)
        split_reference = ray.put(split)
        running = {remote.remote(key, {name: tensor for name, tensor in load_model(run).state_dict().items()},
                                 split_reference, data_dir, config.to_dict(), threads): key
                   for key, run in starts.items()}
        try:
            while running:
                (done,), _ = ray.wait(list(running), num_returns=1)
                key = running.pop(done)
                try:
                    outcome: FinetuneReport | str = keep_or_refuse(ray.get(done), starts[key], split, out)
                except ray.exceptions.RayError as error:
                    outcome = f"fine-tuning failed: {str(error).splitlines()[0]}"
                except RunError as error:
                    outcome = f"could not be saved: {error}"
                outcomes[key] = outcome
                on_finished(key, outcome)
        except KeyboardInterrupt:
            for reference in running:
                ray.cancel(reference, force=True)
            raise
    return [outcomes[key] for key in starts]


# --- the app: one job on the training board ------------------------------------------------------

@dataclass(eq=False)
class FinetuneJob(TrainingJob):
    """Fine-tune each of ``starts`` in turn on the job board's thread, as a training job is run (progress,
    Stop, a place in line); :attr:`reports` holds each model's before and after once it is done."""

    starts: dict[str, RunInfo] = field(default_factory=dict)  # model key → the run it starts from
    split: ClassSplit | None = None
    settings: FinetuneConfig = field(default_factory=FinetuneConfig)
    out: Path | None = None  # the runs folder the new runs go to
    reports: dict[str, FinetuneReport] = field(default_factory=dict, init=False)

    def _train_one(self, part: str, key: str, config: TrainConfig) -> None:
        from .runs import load_model

        self._update(part, state=RUNNING, phase_started=time.monotonic())

        def report(progress: TrainingProgress) -> None:
            self._update(part, fraction=progress.fraction, epoch=progress.epoch, loss=progress.loss,
                         history=progress.history)

        try:
            result = finetune_model(key, load_model(self.starts[key]), self.split, self.data, self.settings,
                                    on_progress=report, should_stop=self._stop.is_set)
            if result.stopped:
                self._update(part, state=STOPPED, message="Stopped: nothing was saved (a fine-tuned run is kept "
                                                          "only whole, with its before and after).")
                return
            outcome = keep_or_refuse(result, self.starts[key], self.split, self.out)
        except RunError as error:
            self._update(part, state=FAILED, message=f"The run {error.reason}")
            return
        except Exception as error:  # reported to the user; the thread must not die silently
            self._update(part, state=FAILED, message=f"{type(error).__name__}: {error}")
            return
        self.reports[key] = outcome
        if outcome.refused:
            self._update(part, state=FAILED, history=tuple(result.history), message=f"Refused: {outcome.refused}")
        else:
            self._update(part, state=SAVED, run_path=outcome.run, fraction=1.0, history=tuple(result.history))


def finetune_job(starts: dict[str, RunInfo], split: ClassSplit, data: MnistData, out: str | Path,
                 settings: FinetuneConfig = FinetuneConfig(), owner: str | None = None) -> FinetuneJob:
    """A job for :meth:`mnist_core.jobs.JobBoard.submit` that fine-tunes each model of ``starts`` in turn."""
    settings.check()
    configs = {key: TrainConfig(RECIPE, epochs=settings.epochs, batch_size=settings.batch_size,
                                learning_rate=settings.learning_rate, seed=settings.seed) for key in starts}
    return FinetuneJob(configs, data, _not_used, owner=owner, starts=dict(starts), split=split, settings=settings,
                       out=Path(out))


def _not_used(key, result):  # a FinetuneJob saves (or refuses) each run itself
    raise NotImplementedError


# --- a class of phones, made from MNIST digits (the benchmark and the tests) ----------------------

@dataclass(frozen=True)
class PhoneDrawing:
    session: str
    label: int
    canvas: np.ndarray  # (CANVAS_SIDE, CANVAS_SIDE) uint8, white ink on black
    pixels: np.ndarray  # (28, 28) uint8, what the app's preprocessing hands the models


def class_of_phones(images: np.ndarray, labels: np.ndarray, phones: int, per_phone: int, seed: int = 0,
                    brushes: tuple[float, float] = (14, 30)) -> list[PhoneDrawing]:
    """``phones`` × ``per_phone`` canvas drawings of random ``images`` (MNIST digits), as people draw on /join:
    each digit's centre line traced with a round brush (each phone its own, within ``brushes`` px) at a random
    size and place (:mod:`mnist_core.drawn`), then prepared as the app prepares a drawing. Each phone draws
    every digit about equally often."""
    from .drawn import HEIGHTS, centre_line, redraw
    from .preprocess import NoDigitError, prepare_digit

    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(np.asarray(labels) == digit) for digit in range(10)]
    made = []
    for phone in range(phones):
        session = f"phone-{seed}-{phone:03d}"
        brush = rng.uniform(*brushes)
        for number in range(per_phone):
            digit = (number + phone) % 10
            index = int(rng.choice(by_digit[digit]))
            width = float(np.clip(brush + rng.normal(0, 1.5), *brushes))
            canvas = redraw(centre_line(images[index]), width, float(rng.uniform(*HEIGHTS)), rng)
            try:
                pixels = prepare_digit(canvas).pixels
            except NoDigitError:
                continue
            made.append(PhoneDrawing(session, digit, canvas, np.round(pixels * 255).astype(np.uint8)))
    return made
