"""``python -m mnist_core bench``: the speed claims, measured in one run on one machine.

1. One training epoch at batch 100, per model: the tutorials' pipeline (torchvision
   dataset with ``ToTensor``/``Normalize`` transforms, a shuffling ``DataLoader``, their
   loop) against :func:`mnist_core.training.train_model`, same model and optimizer.
2. Time to accuracy: training seconds of the ``best`` recipe until the test accuracy first
   reaches a target, beside the ``tutorial`` recipe's best accuracy and its time.
3. Prediction latency: decode a canvas PNG, preprocess, run all three models.
4. Comparison: the first evaluation of the three shipped runs on the test set (loading each
   model included), as the Compare page does it once per run, then the paired statistics.
5. Robustness: the default sweep of the three shipped runs (every perturbation, 2,000 test
   images), computed rather than read from the stored results, and one "Nudge it" update
   (move, turn, scale and thicken a drawn digit, then run the three models).
6. Explanations: occlusion and integrated-gradients maps of the three models for one drawing,
   the one-time pass over the training set for each model's nearest neighbours, and a search.
7. The audience store at 10,000, 50,000 and 200,000 drawings: ``audience stats``, and what one
   refresh of the Audience page reads after a change (the scores and the newest misread
   drawings) or when nothing changed (the change token alone).

8. A seed group: the same runs (seeds of LeNet-5, ``best`` recipe, a few epochs each) one after
   another in this process on every core, as ``train`` without ``--seeds`` runs them, and as a Ray
   seed group on this machine (``train --seeds``: one task per core, the cores shared out), Ray's start
   included.

9. Teaching the models with the class's drawings (``audience finetune``): 600 canvas drawings of training digits
   from 30 phones put in an audience store, the shipped runs fine-tuned on them as the command does (9 phones held
   out), then each run read before and after on 2,000 drawings of test digits no phone sent and on the MNIST test
   set. ``bench --only finetune --class-phones N``: a class of N phones instead, to see what a bigger class
   would teach them.

The app's start-up in a real browser is measured by ``tools/bench_app.py`` (``make bench``
runs both).

``quick`` runs a few batches of each, so the test suite keeps the benchmark working; its
numbers are not meaningful.
"""

from __future__ import annotations

import base64
import io
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .canvas import BRUSH_WIDTH, CANVAS_SIDE
from .cores import available_cores
from .data import MNIST_MEAN, MNIST_STD, load_mnist
from .models import MODELS, build_model, default_model_keys, get_spec, recipe_config

if TYPE_CHECKING:
    from .data import MnistData

DRAWINGS_PER_PHONE = 20  # the finetune part's class: each phone draws every digit twice
BENCH_PARTS = ("epoch", "accuracy", "latency", "compare", "robustness", "explain", "audience", "seeds", "finetune")
AUDIENCE_SIZES = (10_000, 50_000, 200_000)


@dataclass
class Throughput:
    model_key: str
    tutorial_images_per_second: float
    ours_images_per_second: float

    @property
    def speedup(self) -> float:
        return self.ours_images_per_second / self.tutorial_images_per_second


@dataclass
class TimeToAccuracy:
    model_key: str
    target: float
    best_seconds: float | None  # None: not reached
    best_epochs: int
    best_preparation_seconds: float  # making the canvas-style training digits, once (0 when kept from before)
    tutorial_accuracy: float
    tutorial_seconds: float


@dataclass
class CompareTiming:
    images: int
    first_evaluation_seconds: float  # load + evaluate the three shipped runs, one after another
    statistics_ms: float  # paired counts, McNemar, intervals and B − A for every pair of the three


@dataclass
class RobustnessTiming:
    images: int
    levels: int  # perturbation levels visited (the unchanged level once)
    sweep_seconds: float  # the three shipped runs, every level, computed (not read from robustness.json)
    nudge_median_ms: float  # nudge a prepared drawing + the three models' predictions
    nudge_p95_ms: float


@dataclass
class ExplainTiming:
    occlusion_median_ms: float  # the three models' occlusion maps for one drawing
    integrated_gradients_median_ms: float  # the same with integrated gradients (64 steps)
    feature_pass_seconds: dict[str, float]  # per model: the training set through its last hidden layer
    nearest_median_ms: dict[str, float]  # per model: the five nearest training images of a drawing


@dataclass
class AudienceTiming:
    drawings: int  # in the store, canvases of about 3 kB each
    stats_seconds: float  # AudienceStore.stats: what `audience stats` computes
    refresh_seconds: float  # one Audience page refresh after a change: the scores and the misread gallery's rows
    unchanged_refresh_ms: float  # one refresh when nothing changed: the change token only
    file_megabytes: float


@dataclass
class SeedGroupTiming:
    model_key: str
    recipe: str
    runs: int  # seeds 0 to runs - 1
    epochs: int  # each run's
    train_images: int  # each run's
    workers: int  # Ray tasks at once: one per core, each on cores // workers threads
    one_after_another_seconds: float  # in this process, on every core, run after run
    ray_seconds: float  # the same runs as a Ray seed group on this machine, Ray's start included

    @property
    def speedup(self) -> float:
        return self.one_after_another_seconds / self.ray_seconds


@dataclass
class FinetuneTiming:
    model_key: str
    drawings: int  # in the store, from ``phones`` phones
    phones: int
    held_out_sessions: int
    held_out: int  # held-out drawings
    held_out_before: float
    held_out_after: float
    mcnemar_p: float
    unseen: int  # drawings of test digits no phone sent
    unseen_before: float
    unseen_after: float
    mnist_before: float
    mnist_after: float
    kept: bool  # False: refused by the MNIST guard
    seconds: float  # the fine-tuning itself, measurements included
    drawing_seconds: float  # making the class's drawings and the unseen ones (once, shared by the models)


@dataclass
class Latency:
    single_median_ms: float
    single_p95_ms: float
    batch_size: int
    batch_median_ms: float
    batch_p95_ms: float


@dataclass
class BenchReport:
    machine: str
    quick: bool
    throughput: list[Throughput] = field(default_factory=list)
    time_to_accuracy: list[TimeToAccuracy] = field(default_factory=list)
    latency: Latency | None = None
    compare: CompareTiming | None = None
    robustness: RobustnessTiming | None = None
    explain: ExplainTiming | None = None
    audience: list[AudienceTiming] = field(default_factory=list)
    seed_group: SeedGroupTiming | None = None
    finetune: list[FinetuneTiming] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        result = asdict(self)
        for row, item in zip(result["throughput"], self.throughput):
            row["speedup"] = round(item.speedup, 2)
        if self.seed_group is not None:
            result["seed_group"]["speedup"] = round(self.seed_group.speedup, 2)
        return result


def run_bench(
    data_dir: str | None = None, quick: bool = False, parts: tuple[str, ...] = BENCH_PARTS,
    log: Callable[[str], None] = lambda message: None, class_phones: int = 30,
) -> BenchReport:
    """Run the chosen ``parts`` of the benchmark and return the numbers.

    Args:
        data_dir: MNIST root (see :func:`mnist_core.paths.data_dir`).
        quick: a few batches of each part, to check that the benchmark works.
        parts: any of :data:`BENCH_PARTS`.
        log: called with a line of progress before each measurement.
        class_phones: the class that teaches the models in the ``finetune`` part, in phones of
            :data:`DRAWINGS_PER_PHONE` drawings each (more than 30: how much a bigger class would teach them; not in
            the quick mode, which teaches with 5).
    """
    started = time.perf_counter()
    report = BenchReport(machine=machine_description(), quick=quick)
    data = (load_mnist(data_dir) if {"epoch", "accuracy", "compare", "robustness", "explain", "seeds",
                                     "finetune"} & set(parts) else None)
    for key in default_model_keys(built_in=True):  # the models the product compares; the others on request
        if "epoch" in parts:
            log(f"one epoch of {MODELS[key].name}: the tutorials' pipeline, then ours")
            report.throughput.append(measure_epoch(key, data, batches=5 if quick else None, rounds=1 if quick else 2))
    for key in default_model_keys(built_in=True):
        if "accuracy" in parts:
            log(f"time to {100 * MODELS[key].target_accuracy:.0f}% for {MODELS[key].name}, and the tutorial recipe")
            report.time_to_accuracy.append(measure_time_to_accuracy(key, data, quick))
    if "compare" in parts:
        log("first evaluation of the three shipped runs, and the paired statistics")
        report.compare = measure_compare(data, quick)
    if "robustness" in parts:
        log("the default robustness sweep of the three shipped runs, and a Nudge it update")
        report.robustness = measure_robustness(data, quick)
    if "explain" in parts:
        log("explanations: attribution maps, the nearest-neighbour feature pass and a search")
        report.explain = measure_explain(data, quick)
    if "latency" in parts:
        log("prediction latency")
        report.latency = measure_latency(repeats=20 if quick else 200)
    if "audience" in parts:
        for size in (200, 1_000) if quick else AUDIENCE_SIZES:
            log(f"the audience store at {size:,} drawings")
            report.audience.append(measure_audience(size))
    if "seeds" in parts:
        log("a seed group of LeNet-5: one run after another, then the same runs on Ray")
        report.seed_group = measure_seed_group(data, quick)
    if "finetune" in parts:
        log(f"teaching the shipped models with the drawings of {class_phones} phones" if not quick
            else "teaching, quickly")
        report.finetune = measure_finetune(data, quick, phones=class_phones, log=log)
    report.seconds = time.perf_counter() - started
    return report


def measure_epoch(key: str, data: MnistData, batches: int | None = None, rounds: int = 2) -> Throughput:
    """Images per second of one epoch at batch 100 (or of ``batches`` batches).

    The two pipelines take turns, ``rounds`` times, and each keeps its best round: a
    shared or throttled machine then slows both alike instead of skewing the ratio.
    """
    from .training import train_model

    subset = None if batches is None else batches * 100
    config = recipe_config(key, "tutorial", epochs=1, train_subset=subset)
    images = subset or len(data.train_labels)
    tutorial, ours = 0.0, 0.0
    for _ in range(rounds):
        tutorial = max(tutorial, _tutorial_epoch(key, str(data.root), batches))
        result = train_model(key, data.test_subset(1000), config)  # its seconds exclude the test evaluation
        ours = max(ours, images / result.history[0].seconds)
    return Throughput(key, tutorial, ours)


def _tutorial_epoch(key: str, root: str, batches: int | None) -> float:
    """The tutorials' pipeline: per-sample PIL transforms, a DataLoader, their plain loop.

    Their normalisation constants are replaced by MNIST's (their bug changes accuracy, not speed).
    The model runs the stock PyTorch layers, as theirs did (not the CNN's fused training path).
    """
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    loader = DataLoader(datasets.MNIST(root, train=True, transform=transform), batch_size=100, shuffle=True)
    torch.manual_seed(0)
    spec = get_spec(key)
    model = build_model(key, **spec.tutorial_layers)  # the tutorials' pipeline runs the stock layers
    tutorial = spec.recipe("tutorial")
    optimizer = (torch.optim.SGD(model.parameters(), lr=tutorial.learning_rate) if tutorial.optimizer == "sgd"
                 else torch.optim.Adam(model.parameters(), lr=tutorial.learning_rate))
    criterion = torch.nn.CrossEntropyLoss()
    seen = 0
    started = time.perf_counter()
    for index, (images, labels) in enumerate(loader):
        if batches is not None and index == batches:
            break
        outputs = model(images)
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(labels)
    return seen / (time.perf_counter() - started)


def measure_time_to_accuracy(key: str, data: MnistData, quick: bool = False) -> TimeToAccuracy:
    """Seconds of ``best`` training until the test accuracy first reaches the target."""
    from .training import TrainingProgress, train_model

    target = MODELS[key].target_accuracy
    overrides = {"epochs": 1, "train_subset": 1000} if quick else {}
    reached: list[int] = []

    def watch(progress: TrainingProgress) -> None:
        if progress.epoch_finished and not reached and progress.history[-1].test_accuracy >= target:
            reached.append(progress.epoch)

    best = train_model(key, data, recipe_config(key, "best", **overrides), on_progress=watch,
                       should_stop=lambda: bool(reached))
    seconds = sum(row.seconds for row in best.history) if reached else None
    tutorial = train_model(key, data, recipe_config(key, "tutorial", **overrides))
    return TimeToAccuracy(
        key, target, seconds, len(best.history), best.preparation_seconds,
        max(row.test_accuracy for row in tutorial.history), tutorial.training_seconds,
    )


def measure_seed_group(data: MnistData, quick: bool = False) -> SeedGroupTiming:
    """The same seed group trained one run after another (every core) and on Ray (one task per core)."""
    import tempfile
    from pathlib import Path

    import torch

    from .seed_groups import RunTask, train_seed_group
    from .training import train_model

    key = default_model_keys(built_in=True)[-1]  # LeNet-5: the last of the three the product compares
    recipe = "tutorial" if quick else "best"
    overrides = {"epochs": 1, "train_subset": 1000} if quick else {"epochs": 2}
    configs = [recipe_config(key, recipe, seed=seed, **overrides) for seed in range(2 if quick else 4)]
    cores = available_cores()
    threads = torch.get_num_threads()
    torch.set_num_threads(cores)
    try:
        started = time.perf_counter()
        trained = [train_model(key, data, config) for config in configs]
        one_after_another = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    finished = []
    with tempfile.TemporaryDirectory(prefix="mnist-seeds-bench-") as folder:
        tasks = [RunTask(key, config, Path(folder) / f"seed{config.seed}") for config in configs]
        started = time.perf_counter()
        # Nothing is saved: a trained run's "save" returns its image count, a failed one reports its error.
        train_seed_group(tasks, str(data.root), save=lambda task, fields: fields["train_images"], workers=cores,
                         on_finished=lambda task, outcome: finished.append(outcome))
        on_ray = time.perf_counter() - started
    if len(finished) != len(tasks) or not all(isinstance(outcome, int) for outcome in finished):
        raise RuntimeError(f"The Ray seed group did not train every run ({finished}): its time would not compare. "
                           "Check that Ray starts here: python -m mnist_core train --model lenet5 --seeds 2 --epochs 1")
    return SeedGroupTiming(key, recipe, len(configs), configs[0].epochs, trained[0].train_images,
                           min(cores, len(tasks)), one_after_another, on_ray)


def measure_finetune(data: MnistData, quick: bool = False, keys: tuple[str, ...] | None = None,
                     phones: int = 30, per_phone: int = DRAWINGS_PER_PHONE, unseen: int = 2000,
                     log: Callable[[str], None] = lambda message: None) -> list[FinetuneTiming]:
    """The shipped runs taught with ``phones`` × ``per_phone`` drawings of training digits, through an audience
    store as ``audience finetune`` does it, then read on ``unseen`` drawings of test digits (another class's)."""
    import tempfile
    from pathlib import Path

    import torch

    from .audience import AudienceStore, encode_png
    from .evaluation import predict_logits
    from .finetune import (
        FinetuneConfig,
        class_drawings,
        class_of_phones,
        finetune_model,
        keep_or_refuse,
        split_by_session,
    )
    from .predict import shipped_run_dirs
    from .runs import load_model, read_run

    if quick:
        phones, unseen = 5, 40
    settings = FinetuneConfig(epochs=1, mnist_images=500) if quick else FinetuneConfig()
    started = time.perf_counter()
    made = class_of_phones(data.train_images.numpy(), data.train_labels.numpy(), phones, per_phone, seed=1)
    others = class_of_phones(data.test_images.numpy(), data.test_labels.numpy(), unseen // DRAWINGS_PER_PHONE,
                             DRAWINGS_PER_PHONE, seed=2)
    drawing_seconds = time.perf_counter() - started
    unseen_inputs = torch.from_numpy(np.stack([d.pixels for d in others])).float().div(255).sub(MNIST_MEAN) \
        .div(MNIST_STD).unsqueeze(1)
    unseen_labels = np.array([d.label for d in others])
    rows = []
    with tempfile.TemporaryDirectory(prefix="mnist-finetune-bench-") as folder:
        store = AudienceStore(Path(folder) / "audience.sqlite3")
        for drawing in made:
            store.add(label=drawing.label, canvas_png=encode_png(drawing.canvas), pixels=drawing.pixels,
                      answers={}, runs={}, session=drawing.session)
        split = split_by_session(class_drawings(store)[0])
        for key in keys or default_model_keys(built_in=True):
            start = read_run(shipped_run_dirs()[key])
            model = load_model(start)
            before = float((predict_logits(model, unseen_inputs).argmax(dim=1).numpy() == unseen_labels).mean())
            began = time.perf_counter()
            result = finetune_model(key, model, split, data, settings)
            report = keep_or_refuse(result, start, split, Path(folder) / "runs")
            seconds = time.perf_counter() - began
            after = float((predict_logits(result.model, unseen_inputs).argmax(dim=1).numpy() == unseen_labels).mean())
            rows.append(FinetuneTiming(key, len(made), phones, report.held_out_sessions, report.held_out,
                                       report.held_out_before, report.held_out_after, report.mcnemar_p,
                                       len(unseen_labels), before, after, report.mnist_before, report.mnist_after,
                                       report.run is not None, seconds, drawing_seconds))
            log(f"{MODELS[key].name}: drawings no phone sent {100 * before:.2f} → {100 * after:.2f} %, "
                f"{report.sentence()}, {seconds:.0f} s")
        store.close()
    return rows


def measure_compare(data: MnistData, quick: bool = False) -> CompareTiming:
    """What the Compare page computes for the three shipped runs, timed."""
    from itertools import combinations

    from .comparison import accuracy_interval, compare_predictions, difference_matrix
    from .evaluation import confusion_matrix, evaluate
    from .predict import shipped_run_dirs
    from .runs import load_model

    data = data.test_subset(500) if quick else data
    truth = data.test_labels.numpy()
    started = time.perf_counter()
    predictions = [evaluate(load_model(path), data.test_images, data.test_labels).predictions
                   for path in shipped_run_dirs().values()]
    evaluated = time.perf_counter()
    for a, b in combinations(predictions, 2):
        compare_predictions(truth, a, b)
        difference_matrix(confusion_matrix(truth, a), confusion_matrix(truth, b))
    for predicted in predictions:
        accuracy_interval(int((predicted == truth).sum()), len(truth))
    return CompareTiming(len(truth), evaluated - started, 1000 * (time.perf_counter() - evaluated))


def measure_robustness(data: MnistData, quick: bool = False) -> RobustnessTiming:
    """The Robustness page's sweep for the three shipped runs (computed, as for a new run), and Draw's nudge."""
    from .predict import load_model_set, shipped_run_dirs
    from .preprocess import prepare_digit, prepared_from_pixels
    from .robustness import DEFAULT_IMAGES, PERTURBATIONS, nudge, sweep_runs
    from .runs import read_run

    runs = {key: read_run(path) for key, path in shipped_run_dirs().items()}
    count = 100 if quick else DEFAULT_IMAGES
    started = time.perf_counter()
    sweep_runs(runs, data.test_images, data.test_labels, count, use_stored=False)
    sweep_seconds = time.perf_counter() - started
    levels = sum(len(p.levels) - 1 for p in PERTURBATIONS) + 1

    models = load_model_set(runs)
    drawn = prepare_digit(_decode_data_url(_canvas_data_url(0)))

    def nudge_and_predict() -> None:
        moved = nudge(drawn.pixels, shift_x=2, shift_y=-1, rotation=15, scale=110, thickness=0.5)
        models.predict(prepared_from_pixels(moved).tensor)

    for _ in range(5):
        nudge_and_predict()
    timings = _timings(nudge_and_predict, 20 if quick else 200)
    return RobustnessTiming(count, levels, sweep_seconds, 1000 * statistics.median(timings),
                            1000 * _percentile(timings, 95))


def measure_explain(data: MnistData, quick: bool = False) -> ExplainTiming:
    """The Draw page's "Why?" panel for one drawing, with the three shipped runs."""
    from .explain import attributions, features, training_features
    from .predict import shipped_run_dirs
    from .preprocess import prepare_digit
    from .runs import load_model

    models = {key: load_model(path) for key, path in shipped_run_dirs().items()}
    drawn = prepare_digit(_decode_data_url(_canvas_data_url(0))).tensor
    repeats = 3 if quick else 20
    maps = {}
    for method in ("occlusion", "integrated-gradients"):
        attributions(models, drawn, method)  # the first call loads Captum's code
        maps[method] = 1000 * statistics.median(_timings(lambda: attributions(models, drawn, method), repeats))
    images = data.train_images[:2000] if quick else data.train_images
    passes, searches = {}, {}
    for key, model in models.items():
        started = time.perf_counter()
        bank = training_features(model, images)
        passes[key] = time.perf_counter() - started
        query = features(model, drawn)[0]
        searches[key] = 1000 * statistics.median(_timings(lambda: bank.nearest(query), repeats))
    return ExplainTiming(maps["occlusion"], maps["integrated-gradients"], passes, searches)


def measure_audience(drawings: int, seed: int = 0) -> AudienceTiming:
    """A store of ``drawings`` labelled drawings in a temporary folder, scored as the CLI and the page do."""
    import json
    import sqlite3
    import tempfile
    from pathlib import Path

    from .audience import AudienceStore

    rng = np.random.default_rng(seed)
    canvases = [base64.b64decode(_canvas_data_url(index).split(",", 1)[1]) for index in range(50)]
    with tempfile.TemporaryDirectory(prefix="mnist-audience-bench-") as folder:
        store = AudienceStore(Path(folder) / "audience.sqlite3")
        store.clear()  # the first write makes the file and its schema
        labels = rng.integers(0, 10, drawings)
        rows = []
        for index, label in enumerate(labels):  # each model right nine times in ten
            answers = {}
            for key in default_model_keys():  # as the Draw page stores them
                probabilities = rng.dirichlet(np.ones(10))
                digit = int(label) if rng.random() < 0.9 else int(rng.integers(10))
                answers[key] = {"digit": digit, "probabilities": [round(float(p), 6) for p in probabilities]}
            rows.append(("2026-01-01T00:00:00.000+00:00", f"session {index // 20}", f"{index:064x}", int(label),
                         canvases[index % len(canvases)], bytes(784), json.dumps(answers),
                         json.dumps({key: f"checkpoints/{key}" for key in default_model_keys()})))
        with sqlite3.connect(store.path) as connection:  # one transaction: add() would take minutes
            connection.executemany(
                "INSERT INTO drawings (created, session, drawing_sha, label, canvas_png, pixels, answers, runs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        del rows
        stats_seconds = min(_timings(store.stats, 3))

        def refresh() -> None:
            store.version()
            summary = store.summary()
            store.misread(summary.models_answering_all)

        refresh_seconds = min(_timings(refresh, 3))
        unchanged = _timings(store.version, 100)
        return AudienceTiming(drawings, stats_seconds, refresh_seconds, 1000 * statistics.median(unchanged),
                              store.path.stat().st_size / 1e6)


def measure_latency(repeats: int = 200, batch_size: int = 100) -> Latency:
    """Canvas PNG (as the browser sends it) → decode → preprocess → all three models."""
    import torch

    from .predict import load_model_set, shipped_run_dirs
    from .preprocess import prepare_digit

    models = load_model_set(shipped_run_dirs())
    canvases = [_canvas_data_url(seed) for seed in range(batch_size)]

    def predict_one(data_url: str) -> None:
        models.predict(prepare_digit(_decode_data_url(data_url)).tensor)

    def predict_many() -> None:
        inputs = torch.cat([prepare_digit(_decode_data_url(url)).tensor for url in canvases])
        models.predict_batch(inputs)

    for _ in range(5):
        predict_one(canvases[0])
    single = _timings(lambda: predict_one(canvases[0]), repeats)
    many = _timings(predict_many, max(3, repeats // 20))
    return Latency(
        single_median_ms=1000 * statistics.median(single), single_p95_ms=1000 * _percentile(single, 95),
        batch_size=batch_size,
        batch_median_ms=1000 * statistics.median(many), batch_p95_ms=1000 * _percentile(many, 95),
    )


def format_markdown(report: BenchReport) -> str:
    lines = [f"Machine: {report.machine}" + (" — QUICK MODE, numbers not meaningful" if report.quick else ""), ""]
    if report.throughput:
        lines += [
            "| model | tutorials' pipeline (images/s) | ours (images/s) | speed-up |",
            "|---|---:|---:|---:|",
            *(f"| {MODELS[t.model_key].name} | {t.tutorial_images_per_second:,.0f} | {t.ours_images_per_second:,.0f} "
              f"| {t.speedup:.1f}x |" for t in report.throughput),
            "",
        ]
    if report.time_to_accuracy:
        lines += [
            "| model | target | `best`: seconds to target (epochs) | `best`: canvas-style digits made first "
            "| `tutorial`: best accuracy | `tutorial`: seconds |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in report.time_to_accuracy:
            reached = (f"{row.best_seconds:.1f} s ({row.best_epochs})" if row.best_seconds is not None
                       else f"not reached in {row.best_epochs} epochs")
            made = f"{row.best_preparation_seconds:.1f} s" if row.best_preparation_seconds >= 0.05 else "kept"
            lines.append(f"| {MODELS[row.model_key].name} | {100 * row.target:.1f}% | {reached} | {made} | "
                         f"{100 * row.tutorial_accuracy:.2f}% | {row.tutorial_seconds:.1f} s |")
        lines.append("")
    if report.latency:
        latency = report.latency
        lines += [
            "| prediction (decode + preprocess + 3 models) | median | p95 |",
            "|---|---:|---:|",
            f"| one canvas image | {latency.single_median_ms:.2f} ms | {latency.single_p95_ms:.2f} ms |",
            f"| a batch of {latency.batch_size} | {latency.batch_median_ms:.1f} ms | {latency.batch_p95_ms:.1f} ms |",
            "",
        ]
    if report.compare:
        timing = report.compare
        lines += [
            "| Compare, three shipped runs | time |",
            "|---|---:|",
            f"| first evaluation on {timing.images:,} test images (load + evaluate) | "
            f"{timing.first_evaluation_seconds:.2f} s |",
            f"| paired statistics and B − A for all three pairs | {timing.statistics_ms:.1f} ms |",
            "",
        ]
    if report.robustness:
        timing = report.robustness
        lines += [
            "| Robustness, three shipped runs | time |",
            "|---|---:|",
            f"| default sweep: {timing.levels} levels on {timing.images:,} test images | "
            f"{timing.sweep_seconds:.1f} s |",
            f"| one \"Nudge it\" update (nudge + three models), median / p95 | "
            f"{timing.nudge_median_ms:.1f} / {timing.nudge_p95_ms:.1f} ms |",
            "",
        ]
    if report.explain:
        timing = report.explain
        lines += [
            "| Explanations (\"Why?\"), three shipped runs, one drawing | time |",
            "|---|---:|",
            f"| occlusion maps, all three models (median) | {timing.occlusion_median_ms:.0f} ms |",
            f"| integrated gradients, 64 steps, all three (median) | {timing.integrated_gradients_median_ms:.0f} ms |",
            *(f"| {MODELS[key].name}: one-time pass over the training set / nearest five | "
              f"{timing.feature_pass_seconds[key]:.1f} s / {timing.nearest_median_ms[key]:.1f} ms |"
              for key in timing.feature_pass_seconds),
            "",
        ]
    if report.audience:
        lines += [
            "| audience store | file | `audience stats` | Audience page refresh after a change | "
            "refresh, nothing changed |",
            "|---:|---:|---:|---:|---:|",
            *(f"| {row.drawings:,} drawings | {row.file_megabytes:,.0f} MB | {row.stats_seconds:.3f} s | "
              f"{row.refresh_seconds:.3f} s | {row.unchanged_refresh_ms:.3f} ms |" for row in report.audience),
            "",
        ]
    if report.seed_group:
        timing = report.seed_group
        lines += [
            f"| a seed group: {timing.runs} runs of {MODELS[timing.model_key].name}, `{timing.recipe}`, "
            f"{timing.epochs} epoch(s) on {timing.train_images:,} images each | wall time |",
            "|---|---:|",
            f"| one after another, every core (`train`) | {timing.one_after_another_seconds:.1f} s |",
            f"| on Ray, {timing.workers} at once, the cores shared out (`train --seeds`), Ray's start included | "
            f"{timing.ray_seconds:.1f} s ({timing.speedup:.2f}x) |",
            "",
        ]
    if report.finetune:
        first = report.finetune[0]
        lines += [
            f"| taught with {first.drawings} drawings of {first.phones} phones ({first.held_out_sessions} held out: "
            f"{first.held_out} drawings) | held-out phones, before → after (McNemar p) | {first.unseen:,} drawings "
            "no phone sent | MNIST test | kept | time |",
            "|---|---:|---:|---:|---|---:|",
            *(f"| {MODELS[row.model_key].name} | {100 * row.held_out_before:.1f} → {100 * row.held_out_after:.1f} % "
              f"(p = {row.mcnemar_p:.3g}) | {100 * row.unseen_before:.2f} → {100 * row.unseen_after:.2f} % | "
              f"{100 * row.mnist_before:.2f} → {100 * row.mnist_after:.2f} % | {'yes' if row.kept else 'refused'} | "
              f"{row.seconds:.0f} s |" for row in report.finetune),
            f"(making the drawings: {first.drawing_seconds:.0f} s)",
            "",
        ]
    lines.append(f"Benchmark took {report.seconds:.0f} s.")
    return "\n".join(lines)


def machine_description() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        cpu = f"{names[0]} x{len(names)}" if names else cpu
    except OSError:
        pass
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {torch.get_num_threads()} torch threads, {device}; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def _timings(action: Callable[[], None], repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return timings


def _percentile(values: list[float], percent: float) -> float:
    return float(np.percentile(values, percent))


def _canvas_data_url(seed: int) -> str:
    """The Draw page's canvas (RGBA) with a hand-like digit, as a PNG data URL (what the browser sends)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    image = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    points = [(int(x), int(y)) for x, y in rng.integers(50, CANVAS_SIDE - 50, size=(5, 2))]
    pen.line(points, fill=(255, 255, 255, 255), width=BRUSH_WIDTH, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _decode_data_url(data_url: str) -> np.ndarray:
    from PIL import Image

    encoded = data_url.split(";base64,", 1)[1]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
