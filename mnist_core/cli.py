"""The command line: ``python -m mnist_core COMMAND`` (train, evaluate, compare, seeds, predict, explain, robustness,
drawn, audience (stats, export, hide, phones, game, finetune), export, bench).

Every expected failure (missing data, damaged run, unreadable image, bad argument)
ends with a one-line message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .audience import AUDIENCE_DB_ENV, DEFAULT_FILE, AudienceStore, AudienceStoreError
from .bench import BENCH_PARTS, DRAWINGS_PER_PHONE
from .data import MnistDataError
from .drawn import DEFAULT_IMAGES as DRAWN_IMAGES
from .explain import METHODS
from .models import MODEL_KEYS, MODELS, ModelFileError, default_model_keys, load_user_models
from .recipes import MAX_SEED, MAX_SEED_GROUP_RUNS, RECIPES
from .robustness import DEFAULT_IMAGES, STORED_FILE
from .runs import RunError
from .workspace import Workspace

if TYPE_CHECKING:
    import torch

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
RUNS_HELP = "folder of runs; each model uses its shipped checkpoint there, else its newest run (default: checkpoints/)"
MODELS_HELP = "which models, e.g. mlp,lenet5_relu, or all (default: those the app shows by default)"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        load_user_models()  # before the parser: --model lists their keys
    except ModelFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except (MnistDataError, RunError, AudienceStoreError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nInterrupted: nothing was saved for the model in progress.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`
        return EXIT_OK


def _shared(*flags: str, **options) -> argparse.ArgumentParser:
    """A parent parser (argparse's ``parents=``) holding one option that several commands take."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(*flags, **options)
    return parent


def _json_option(instead_of: str = "a table") -> argparse.ArgumentParser:
    return _shared("--json", action="store_true", help=f"print JSON instead of {instead_of}")


def _runs_option(help: str = RUNS_HELP) -> argparse.ArgumentParser:
    return _shared("--runs", type=Path, default=None, help=help)


def _data_dir_option(what: str = "MNIST root") -> argparse.ArgumentParser:
    return _shared("--data-dir", help=f"{what} (default: $MNIST_DATA_DIR, else ./data)")


def _seed_option(what: str) -> argparse.ArgumentParser:
    return _shared("--seed", type=_seed, default=0, help=f"{what} (default: 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core",
        description="Train, evaluate and run the MNIST comparison models: the registry's (MLP, CNN, LeNet-5, "
                    "LeNet-5 (ReLU)) and any named in $MNIST_MODELS.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Options that several commands take, each declared once; a command lists them in parents=[...]
    # (argparse shows a command's shared options before its own).
    data_dir = _data_dir_option()
    models = _shared("--models", type=_model_keys, default=None, metavar="KEY[,KEY…]", help=MODELS_HELP)
    db = _shared("--db", default=None,  # text: a postgresql:// address is no path
                 help=f"the store: a SQLite file or a postgresql:// address (default: ${AUDIENCE_DB_ENV}, "
                      f"else runs/{DEFAULT_FILE})")

    train = commands.add_parser("train", help="train models and save each as a run folder",
                                parents=[_seed_option("random seed"), data_dir])
    train.add_argument("--model", choices=[*MODEL_KEYS, "all"], default="all", help="which model (default: all)")
    train.add_argument("--recipe", choices=RECIPES, default="best",
                       help="tutorial: the tutorials' settings, bugs fixed; best: our recipe (default)")
    train.add_argument("--epochs", type=_positive_int, help="number of epochs (default: the recipe's)")
    train.add_argument("--batch-size", type=_positive_int, help="batch size (default: the recipe's)")
    train.add_argument("--lr", type=_positive_float, help="(peak) learning rate (default: the recipe's)")
    train.add_argument("--subset", type=_positive_int, help="train on this many random training images")
    train.add_argument("--validation", type=_count, metavar="N",
                       help="hold out N training images (always the same ones) to choose settings on; "
                            "0 for none (default: the recipe's: best 5,000, tutorial none)")
    train.add_argument("--seeds", type=_seed_list, metavar="N|S,S,…",
                       help="train a seed group: seeds 0 to N-1, or the seeds listed; each model and seed is one "
                            "Ray task, on this machine's cores or the cluster at $RAY_ADDRESS")
    train.add_argument("--workers", type=_positive_int, help="with --seeds: at most N runs at once (default: one "
                                                              "per core)")
    train.add_argument("--ray-address", help="with --seeds: a Ray cluster (default: $RAY_ADDRESS, else Ray on this "
                                             "machine)")
    train.add_argument("--device", default="auto", help="auto (default), cpu, cuda, mps")
    train.add_argument("--out", type=Path, default=None,
                       help="folder for the run folders (default: $MNIST_RUNS_DIR, else runs/)")
    train.add_argument("--name", help="run folder name; {model} becomes the model key, {seed} the seed (default: "
                                      "<model>-<recipe>-<time>; with --seeds <model>-<recipe>-seed<N>-<time>)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder of that name")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="evaluate every run folder in a folder on the test set",
                                   parents=[_runs_option("folder of runs (default: checkpoints/)"), _json_option(),
                                            data_dir])
    evaluate.set_defaults(handler=_evaluate)

    compare = commands.add_parser("compare", help="is the difference between two runs real? (McNemar's test)",
                                  parents=[_json_option(), data_dir])
    compare.add_argument("run_a", type=Path, metavar="RUN_A", help="a run folder, e.g. checkpoints/cnn")
    compare.add_argument("run_b", type=Path, metavar="RUN_B", help="another run folder, e.g. checkpoints/lenet5")
    compare.set_defaults(handler=_compare)

    seeds = commands.add_parser(
        "seeds", help="architecture or luck? each model's seed group (mean ± sd, its ensemble) and every pair "
                      "compared across seeds (Welch's t-test, Holm's correction)",
        parents=[_runs_option("folder of runs, grouped by model and settings but the seed (default: checkpoints/)"),
                 _json_option(), data_dir])
    seeds.set_defaults(handler=_seeds)

    predict = commands.add_parser("predict", help="predict the digit in image files with each model",
                                  parents=[_runs_option(), models, _json_option()])
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, ... files")
    predict.set_defaults(handler=_predict)

    explain = commands.add_parser("explain", help="attribution maps: which pixels made each model's answer",
                                  parents=[_runs_option(), models, _json_option("a summary")])
    explain.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, ... files")
    explain.add_argument("--method", choices=METHODS, default="occlusion",
                         help="occlusion (default: a black 5x5 patch slid over the digit) or integrated-gradients "
                              "(from a black image, 64 steps)")
    explain.set_defaults(handler=_explain)

    robustness = commands.add_parser(
        "robustness", help="each model's accuracy as test digits are shifted, rotated, scaled, thickened, "
                           "made noisy or partly hidden",
        parents=[_runs_option(), models, _seed_option("picks the images, the noise and the patches"),
                 _json_option("tables"), data_dir])
    robustness.add_argument("--images", type=_image_count, default=DEFAULT_IMAGES,
                            help=f"how many test images, drawn at random with --seed, or 'all' "
                                 f"(default: {DEFAULT_IMAGES})")
    robustness.add_argument("--save", action="store_true",
                            help=f"also store each model's results in its run folder ({STORED_FILE}), "
                                 "where the dashboard reads them instead of recomputing")
    robustness.set_defaults(handler=_robustness)

    drawn = commands.add_parser(
        "drawn", help="each model's accuracy on MNIST digits re-drawn as people draw on the canvas: "
                      "round brushes of 14-30 px and 2-6 px, small and large",
        parents=[_runs_option(), models, _seed_option("picks the digits, brushes, sizes and places"),
                 _json_option(), data_dir])
    drawn.add_argument("--images", type=_positive_int, default=DRAWN_IMAGES,
                       help=f"drawings per brush range, of digits of the split drawn at random with --seed "
                            f"(default: {DRAWN_IMAGES})")
    drawn.add_argument("--split", choices=("test", "validation"), default="test",
                       help="re-draw test digits (default), or the training images the best recipe holds out "
                            "for validation (to choose settings on)")
    drawn.add_argument("--keep-width", action="store_true",
                       help="do not redraw the strokes at MNIST's width (how the app read drawings before)")
    drawn.set_defaults(handler=_drawn)

    audience = commands.add_parser("audience", help="the audience's labelled drawings: scores and export")
    audience_commands = audience.add_subparsers(dest="audience_command", metavar="ACTION", required=True)
    stats = audience_commands.add_parser("stats", help="how many drawings, and each model's accuracy on them",
                                         parents=[_json_option(), db])
    stats.set_defaults(handler=_audience_stats)
    export = audience_commands.add_parser("export", help="write the drawings as PNGs and labels.csv into DIR",
                                          parents=[db])
    export.add_argument("folder", type=Path, metavar="DIR", help="folder to write into (created if needed)")
    export.set_defaults(handler=_audience_export)
    hide = audience_commands.add_parser(
        "hide", help="hide drawings from the scores, the gallery and the export (the store keeps them)", parents=[db])
    hide_what = hide.add_mutually_exclusive_group(required=True)
    hide_what.add_argument("--session", metavar="SESSION",
                           help="a phone: every drawing it sent and sends later (its session, or its nickname as "
                                "`audience phones` lists it)")
    hide_what.add_argument("--id", type=int, action="append", metavar="N", help="one drawing (repeat for more)")
    hide.add_argument("--undo", action="store_true", help="show them again")
    hide.set_defaults(handler=_audience_hide)
    phones = audience_commands.add_parser("phones", help="each phone or browser that stored drawings, by nickname",
                                          parents=[_json_option(), db])
    phones.set_defaults(handler=_audience_phones)
    game = audience_commands.add_parser(
        "game", help="Fool the models: start or stop a round; without an action, the round's scores",
        parents=[_json_option(), db])
    game.add_argument("action", nargs="?", choices=("start", "stop"), help="start a round, or stop the running one")
    game.add_argument("--minutes", type=float, default=None, metavar="M",
                      help="how long the round started lasts (default 5)")
    game.set_defaults(handler=_audience_game)
    finetune = audience_commands.add_parser(
        "finetune", help="teach the models in use with the class's drawings (whole phones held out to test on), "
                         "and say what changed", parents=[models, _json_option(), db, data_dir])
    finetune.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                          help="passes over 15,000 MNIST training images, each batch mixed with drawings (default 3)")
    finetune.add_argument("--out", type=Path, default=None,
                          help="folder for the new runs (default: $MNIST_RUNS_DIR, else runs/)")
    finetune.add_argument("--use", action="store_true",
                          help="then make the new runs the room's: what /join serves and the pages use")
    finetune.add_argument("--ray-address", help="with several models: a Ray cluster (default: $RAY_ADDRESS, else "
                                                "Ray on this machine)")
    finetune.set_defaults(handler=_audience_finetune)

    export_models = commands.add_parser(
        "export", help="the runs in use as ONNX files (pixels in [0, 1] in, probabilities out) with a manifest",
        parents=[_runs_option(), models, _json_option(), _data_dir_option("MNIST root for --check")])
    export_models.add_argument("--onnx", type=Path, required=True, metavar="DIR",
                               help="folder to write <model key>.onnx and manifest.json into (created if needed)")
    export_models.add_argument("--check", action="store_true",
                               help="then run each file with ONNX Runtime on the 10,000 test images: its accuracy "
                                    "against the run's, and the largest difference to PyTorch's probabilities")
    export_models.add_argument("--fp16", action="store_true",
                               help="store the weights as float16: half the download; computed in float32")
    export_models.add_argument("--int8", action="store_true",
                               help="store the fully connected weights as int8 (a quarter of float32), the rest as "
                                    "float16, for each model whose accuracy on the 10,000 test images drops by at "
                                    "most 0.05 points; float16 for the others (needs MNIST; as /join serves them)")
    export_models.add_argument("--save", action="store_true",
                               help="with --int8 --check: store each model's int8 check beside its run "
                                    "(int8_check.json, for these weights), where /join reads it instead of checking "
                                    "on its first request (make int8-checks does it for checkpoints/)")
    export_models.set_defaults(handler=_export)

    bench = commands.add_parser("bench", help="measure training speed, time to accuracy and prediction latency",
                                parents=[_json_option("Markdown tables"), data_dir])
    bench.add_argument("--quick", action="store_true", help="a few batches of each part (checks that it works)")
    bench.add_argument("--only", type=_bench_parts, default=BENCH_PARTS,
                       help=f"comma-separated parts to run (default: {','.join(BENCH_PARTS)})")
    bench.add_argument("--class-phones", type=_class_phones, default=30, metavar="N",
                       help=f"the class that teaches the models in the finetune part: N phones of "
                            f"{DRAWINGS_PER_PHONE} drawings each (default 30; more shows what a bigger class would "
                            "teach them; not with --quick)")
    bench.set_defaults(handler=_bench)
    return parser


def _train(args: argparse.Namespace) -> int:
    if args.seeds is not None:
        return _train_seed_group(args)
    if args.workers or args.ray_address:
        raise ValueError("--workers and --ray-address go with --seeds (a seed group trained on Ray).")
    from tqdm import tqdm

    from .data import load_mnist
    from .models import recipe_config
    from .recipes import check_config
    from .runs import new_run_dir, prepare_runs_folder, safe_run_name, save_run_or_rescue
    from .training import resolve_device, train_model

    keys = list(MODEL_KEYS) if args.model == "all" else [args.model]
    args.out = args.out or Workspace().runs
    configs = {
        key: recipe_config(key, args.recipe, epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.lr, seed=args.seed, device=args.device, train_subset=args.subset,
                           validation=args.validation)
        for key in keys
    }
    targets = {}
    for key in keys:
        if args.name:
            target = args.out / safe_run_name(args.name.replace("{model}", key))
            if target.exists() and not args.overwrite:
                raise ValueError(f"{target} already exists: pass --overwrite to replace it, or choose another --name.")
            if len(keys) > 1 and "{model}" not in args.name:
                raise ValueError("With --model all, --name must contain {model} so each model gets its own folder.")
            targets[key] = target
    # Everything that can be wrong is found before minutes of training, not after.
    for config in configs.values():
        check_config(config)
    resolve_device(args.device)
    data = load_mnist(args.data_dir)
    for config in configs.values():
        try:
            data.check_validation_size(config.validation)
        except ValueError as error:
            raise ValueError(f"{error} Pass --validation N.") from None
    prepare_runs_folder(args.out)
    failed = False

    for key in keys:
        config = configs[key]
        spec = MODELS[key]
        bar = tqdm(total=config.epochs, desc=f"{spec.name:<8}", unit="epoch", dynamic_ncols=True,
                   bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.1f}/{total} epochs "
                              "[{elapsed}<{remaining}{postfix}]")

        def show(progress, bar=bar):
            if progress.preparing is not None:
                bar.set_postfix_str(f"preparing canvas-style images {progress.preparing:.0%}")
                return
            bar.n = progress.epoch - 1 + progress.batch / progress.batches
            postfix = f"loss {progress.loss:.3f}"
            if progress.history:
                last = progress.history[-1]
                if last.validation_accuracy is not None:
                    postfix += f", validation {100 * last.validation_accuracy:.2f}%"
                postfix += f", test {100 * last.test_accuracy:.2f}%"
            bar.set_postfix_str(postfix, refresh=False)
            if progress.epoch_finished or progress.batch % 20 == 0:
                bar.refresh()

        result = train_model(key, data, config, on_progress=show)
        bar.close()
        if result.diverged_at is not None:
            print(f"error: {spec.name} diverged in epoch {result.diverged_at} (the loss became NaN or infinite); "
                  "nothing was saved. Try a lower --lr.", file=sys.stderr)
            failed = True
            continue
        target = targets.get(key) or new_run_dir(args.out, key, config.recipe)
        try:
            info = save_run_or_rescue(target, **result.run_fields(), overwrite=args.overwrite)
        except RunError as error:  # said, and the next model still trains
            print(f"error: {error}", file=sys.stderr)
            failed = True
            continue
        checked = result.history[-1].validation_accuracy
        validation = f"validation accuracy {100 * checked:.2f}%, " if checked is not None else ""
        print(f"{spec.name}: {validation}test accuracy {100 * info.accuracy:.2f}% after {len(result.history)} epochs, "
              f"{result.training_seconds:.1f} s of training. Saved to {_shown(info.path)}")
    return EXIT_FAILED if failed else EXIT_OK


def _train_seed_group(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tqdm import tqdm

    from .data import load_mnist
    from .models import build_model, recipe_config
    from .recipes import check_config
    from .runs import RunInfo, new_run_dir, prepare_runs_folder, safe_run_name, save_new_run, save_run_or_rescue
    from .seed_groups import RunTask, train_seed_group
    from .training import resolve_device

    keys = list(MODEL_KEYS) if args.model == "all" else [args.model]
    args.out = args.out or Workspace().runs
    group = f"{args.recipe}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    if args.name and len(args.seeds) > 1 and "{seed}" not in args.name:
        raise ValueError("With --seeds, --name must contain {seed} so each seed gets its own folder.")
    if args.name and len(keys) > 1 and "{model}" not in args.name:
        raise ValueError("With --model all, --name must contain {model} so each model gets its own folder.")
    if len(keys) * len(args.seeds) > MAX_SEED_GROUP_RUNS:
        raise ValueError(f"{len(keys)} models × {len(args.seeds):,} seeds is {len(keys) * len(args.seeds):,} runs: one "
                         f"seed group trains at most {MAX_SEED_GROUP_RUNS:,}. Give fewer seeds, or one --model.")
    tasks = []
    for key in keys:
        for seed in args.seeds:
            config = recipe_config(key, args.recipe, epochs=args.epochs, batch_size=args.batch_size,
                                   learning_rate=args.lr, seed=seed, device=args.device, train_subset=args.subset,
                                   validation=args.validation, group=group)
            check_config(config)
            if args.name:
                target = args.out / safe_run_name(args.name.replace("{model}", key).replace("{seed}", str(seed)))
                if target.exists() and not args.overwrite:
                    raise ValueError(f"{target} already exists: pass --overwrite to replace it, or choose another "
                                     "--name.")
            else:
                target = new_run_dir(args.out, key, f"{args.recipe}-seed{seed}")
            tasks.append(RunTask(key, config, target))
    resolve_device(args.device)
    data = load_mnist(args.data_dir)  # here, before any task: a missing data set is said once
    for task in tasks:
        try:
            data.check_validation_size(task.config.validation)
        except ValueError as error:
            raise ValueError(f"{error} Pass --validation N.") from None
    prepare_runs_folder(args.out)
    # Shown after a second (Ray takes longer to start): an address refused at once leaves its message alone.
    bar = tqdm(total=len(tasks), desc="seed group", unit="run", dynamic_ncols=True, delay=1)
    failed = []

    def save(task: RunTask, fields: dict) -> RunInfo:
        model = build_model(task.model_key)
        model.load_state_dict(fields["model"])
        fields = {**fields, "model": model}
        if args.name:  # the name asked for, or an error (the run rescued)
            return save_run_or_rescue(task.target, **fields, overwrite=args.overwrite)
        # Another seed group saving into --out in the same second may have taken the name chosen at the start.
        return save_new_run(args.out, f"{args.recipe}-seed{task.config.seed}", first=task.target, **fields)

    def finished(task: RunTask, outcome) -> None:
        bar.update()
        name = f"{MODELS[task.model_key].name} seed {task.config.seed}"
        if isinstance(outcome, RunInfo):
            bar.write(f"{name}: test accuracy {100 * outcome.accuracy:.2f}%, {outcome.training_seconds:.0f} s of "
                      f"training. Saved to {_shown(outcome.path)}")
        else:
            failed.append(name)
            bar.write(f"error: {name} {outcome}", file=sys.stderr)

    try:
        train_seed_group(tasks, str(data.root), _saving_errors(save), workers=args.workers,
                         address=args.ray_address, on_finished=finished)
    except KeyboardInterrupt:
        bar.close()
        print("\nInterrupted: the runs still training were cancelled; the finished ones are saved.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        bar.close()  # before any error's message, which then has a line of its own
    print(f"Seed group {group}: {len(tasks) - len(failed)} of {len(tasks)} runs saved. Compare them with: "
          f"python -m mnist_core seeds --runs {_shown(args.out)}")
    return EXIT_FAILED if failed else EXIT_OK


def _saving_errors(save):
    """``save``, with a run that cannot be saved said (its ``RunError`` names where it went) instead of raised."""
    def guarded(task, fields):
        try:
            return save(task, fields)
        except RunError as error:
            return f"could not be saved: {error}"
    return guarded


def _evaluate(args: argparse.Namespace) -> int:
    from .data import load_mnist
    from .evaluation import evaluate
    from .runs import find_runs, load_model

    args.runs = args.runs or Workspace().checkpoints
    runs, damaged = find_runs(args.runs)
    errors = [{"run": _shown(error.run_dir), "error": error.problem} for error in damaged]
    models = []
    if runs:
        data = load_mnist(args.data_dir)
        for run in runs:
            try:
                model = load_model(run)
            except RunError as error:
                errors.append({"run": _shown(run.path), "error": error.problem})
                continue
            result = evaluate(model, data.test_images, data.test_labels)
            models.append({
                "model": run.model_key, "name": run.name, "run": _shown(run.path),
                # A model that outputs infinities has no finite loss: null, as strict JSON has no NaN.
                "accuracy": round(result.accuracy, 6),
                "loss": round(result.loss, 6) if math.isfinite(result.loss) else None,
                "parameters": run.parameters,
            })
    if args.json:
        print(json.dumps({"models": models, "errors": errors}, indent=2, allow_nan=False))
    else:
        if models:
            print(f"{'model':<9} {'accuracy':>9} {'loss':>8} {'parameters':>11}  run")
            for row in models:
                loss = f"{row['loss']:>8.4f}" if row["loss"] is not None else f"{'-':>8}"
                print(f"{row['name']:<9} {100 * row['accuracy']:>8.2f}% {loss} "
                      f"{row['parameters']:>11,}  {row['run']}")
        for row in errors:
            print(f"damaged: {row['run']}: {row['error']}", file=sys.stderr)
    if not runs and not damaged:
        print(f"error: no run folders in {args.runs}. Train one with: python -m mnist_core train", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if errors else EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from .comparison import accuracy_interval, compare_predictions, significance_sentence
    from .data import load_mnist
    from .evaluation import evaluate
    from .runs import load_model, read_run

    runs = [read_run(args.run_a), read_run(args.run_b)]
    models = [load_model(run) for run in runs]
    data = load_mnist(args.data_dir)
    truth = data.test_labels.numpy()
    predictions = [evaluate(model, data.test_images, data.test_labels).predictions for model in models]
    paired = compare_predictions(truth, *predictions)

    def side(run, predicted) -> dict:
        correct = int((predicted == truth).sum())
        low, high = accuracy_interval(correct, len(truth))
        return {"run": _shown(run.path), "model": run.model_key, "accuracy": round(correct / len(truth), 6),
                "ci95": [round(low, 6), round(high, 6)], "errors": len(truth) - correct}

    report = {
        "a": side(runs[0], predictions[0]), "b": side(runs[1], predictions[1]),
        "both_right": paired.both_right, "only_a_right": paired.only_a_right,
        "only_b_right": paired.only_b_right, "both_wrong": paired.both_wrong,
        "mcnemar_p": round(paired.mcnemar_p, 6), "significant": paired.significant,
    }
    if args.json:
        print(json.dumps(report, indent=2, allow_nan=False))
        return EXIT_OK
    for label, run in zip("AB", runs):
        row = report[label.lower()]
        print(f"{label}: {run.name:<8} {100 * row['accuracy']:.2f}% (95% CI {100 * row['ci95'][0]:.2f}–"
              f"{100 * row['ci95'][1]:.2f}%), {row['errors']} errors  {row['run']}")
    print(f"both right {paired.both_right:,} · only A right {paired.only_a_right} · only B right "
          f"{paired.only_b_right} · both wrong {paired.both_wrong}")
    names = [run.name if runs[0].name != runs[1].name else f"{run.name} ({label})" for label, run in zip("AB", runs)]
    print(significance_sentence(*names, paired))
    return EXIT_OK


def _seeds(args: argparse.Namespace) -> int:
    from .data import load_mnist, normalize
    from .evaluation import predict_logits
    from .runs import find_runs, load_model
    from .seeds import compare_groups, group_runs, with_ensembles

    folder = args.runs or Workspace().checkpoints
    runs, damaged = find_runs(folder)
    if not runs and not damaged:
        raise RunError(folder, "holds no usable run. Train seed groups with: python -m mnist_core train --seeds 5")
    errors = [{"run": _shown(error.run_dir), "error": error.problem} for error in damaged]
    probabilities: dict[Path, np.ndarray] = {}  # each member's softmax on the test images
    if runs:
        data = load_mnist(args.data_dir)
        inputs = normalize(data.test_images)
    while True:  # a run whose weights fail to load leaves its group (which may then take an older run of its seed)
        groups = group_runs(runs)
        broken = []
        for run in (run for group in groups for run in group.runs if run.path not in probabilities):
            try:
                probabilities[run.path] = predict_logits(load_model(run), inputs).softmax(dim=1).numpy()
            except RunError as error:
                errors.append({"run": _shown(run.path), "error": error.problem})
                broken.append(run.path)
        if not broken:
            break
        runs = [run for run in runs if run.path not in broken]
    if groups:
        groups = with_ensembles(groups, lambda run: probabilities[run.path], data.test_labels.numpy())
    pairs = compare_groups(groups)
    if args.json:
        print(json.dumps({"groups": [group.to_dict() for group in groups], "pairs": [pair.to_dict() for pair in pairs],
                          "errors": errors}, indent=2, allow_nan=False))
        return EXIT_FAILED if errors else EXIT_OK
    if groups:
        print(f"{'model':<15} {'recipe':<9} {'seeds':>5} {'mean':>8} {'sd':>7} {'ensemble':>9}  seeds' test accuracies")
    for group in groups:
        sd = f"{100 * group.sd:.2f}" if group.sd is not None else "—"
        print(f"{group.name:<15} {group.recipe:<9} {len(group.runs):>5} {100 * group.mean:7.2f}% {sd:>7} "
              f"{100 * group.ensemble_accuracy:8.2f}%  " + ", ".join(f"{100 * a:.2f}" for a in group.accuracies))
    for pair in pairs:
        print(pair.sentence())
    for row in errors:
        print(f"damaged: {row['run']}: {row['error']} (left out)", file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _default_runs(folder: Path | None, models: Sequence[str] | None = None) -> dict:
    """Each model's run in ``folder`` (default: checkpoints/), as ``predict`` and ``explain`` choose it;
    ``models``: which ones (default: those shown by default)."""
    from .runs import default_runs, find_runs

    folder = folder or Workspace().checkpoints
    runs, _ = find_runs(folder)
    chosen = default_runs(runs, Workspace().checkpoints, include=models or ())
    if models:
        missing = [key for key in models if key not in chosen]
        if missing:
            raise RunError(folder, f"holds no usable run of {', '.join(missing)}. Train one with: "
                                   f"python -m mnist_core train --model {missing[0]}")
        chosen = {key: chosen[key] for key in models}
    if not chosen:
        raise RunError(folder, "holds no usable run. Train one with: python -m mnist_core train")
    return chosen


def _prepare_files(files: Sequence[str]) -> tuple[list[dict], list[tuple[int, torch.Tensor]]]:
    """One result per file (``{"file", "error"}`` for those that hold no readable digit), and the
    prepared inputs of the others with their index in the results."""
    from .preprocess import ImageReadError, NoDigitError, open_image, prepare_digit

    results: list[dict] = []
    prepared = []
    for path in files:
        try:
            digit = prepare_digit(open_image(path))
        except (ImageReadError, NoDigitError) as error:
            results.append({"file": path, "error": str(error)})
            continue
        prepared.append((len(results), digit.tensor))
        results.append({"file": path, "models": {}})
    return results, prepared


def _predict(args: argparse.Namespace) -> int:
    import torch

    from .predict import load_model_set

    model_set = load_model_set(_default_runs(args.runs, args.models))
    results, prepared = _prepare_files(args.images)

    chunk = 512  # one forward pass per model for many images; chunked to bound memory
    for start in range(0, len(prepared), chunk):
        part = prepared[start : start + chunk]
        probabilities = model_set.predict_batch(torch.cat([tensor for _, tensor in part]))
        for row, (index, _) in enumerate(part):
            results[index]["models"] = {
                key: {"digit": int(probs[row].argmax()), "probabilities": [round(float(p), 6) for p in probs[row]]}
                for key, probs in probabilities.items()
            }

    if args.json:
        print(json.dumps({"results": results}, allow_nan=False))
    else:
        keys = model_set.keys
        print("  ".join([f"{'file':<30}", *(f"{MODELS[k].name:>12}" for k in keys)]))
        for result in results:
            if "error" in result:
                print(f"{result['file']:<30}  error: {result['error']}")
                continue
            cells = []
            for key in keys:
                answer = result["models"][key]
                cells.append(f"{answer['digit']} ({100 * answer['probabilities'][answer['digit']]:.0f}%)".rjust(12))
            print("  ".join([f"{result['file']:<30}", *cells]))
    return EXIT_FAILED if any("error" in result for result in results) else EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from .explain import attributions
    from .runs import load_model

    models = {key: load_model(run) for key, run in _default_runs(args.runs, args.models).items()}
    results, prepared = _prepare_files(args.images)
    for index, inputs in prepared:
        for key, found in attributions(models, inputs, args.method).items():
            results[index]["models"][key] = {"digit": found.digit,
                                             "attribution": [[round(float(v), 6) for v in row] for row in found.map]}
    if args.json:
        print(json.dumps({"results": results}, allow_nan=False))
    else:
        for result in results:
            if "error" in result:
                print(f"{result['file']}: error: {result['error']}")
                continue
            answers = []
            for key, answer in result["models"].items():
                credit = np.asarray(answer["attribution"])
                if credit.max() > 0:
                    row, column = np.unravel_index(int(credit.argmax()), credit.shape)
                    where = f"most credit at row {row}, column {column}"
                else:
                    where = "no pixel credited"
                answers.append(f"{MODELS[key].name} {answer['digit']} ({where})")
            print(f"{result['file']}: " + "; ".join(answers))
        print(f"({args.method}; --json prints the 28x28 maps)")
    return EXIT_FAILED if any("error" in result for result in results) else EXIT_OK


def _robustness(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .data import load_mnist
    from .robustness import summary_sentence, sweep_runs, write_stored

    chosen = _default_runs(args.runs, args.models)
    data = load_mnist(args.data_dir)
    with tqdm(desc="robustness", unit="level", dynamic_ncols=True, leave=False) as bar:
        def show(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        # --save recomputes: what it stores is measured now, not read back.
        result = sweep_runs(chosen, data.test_images, data.test_labels, args.images, args.seed,
                            on_progress=show, use_stored=not args.save)
    if args.save:
        for key, run in chosen.items():
            accuracy = {r.perturbation.name: r.accuracy[key] for r in result.results}
            try:
                write_stored(run, result.images, result.seed, accuracy)
            except OSError as error:
                raise ValueError(f"Cannot write {STORED_FILE} into {run.path}: {error.strerror or error}.") from None
    report = {"images": result.images, "seed": result.seed,
              "runs": {key: _shown(run.path) for key, run in chosen.items()},
              "perturbations": [r.to_dict() for r in result.results]}
    if args.json:
        print(json.dumps(report, indent=2, allow_nan=False))
        return EXIT_OK
    names = {key: MODELS[key].name for key in chosen}
    print(f"Accuracy (%) on {result.images:,} test images (seed {result.seed}): "
          + ", ".join(f"{names[key]} {_shown(run.path)}" for key, run in chosen.items()))
    for row in result.results:
        perturbation = row.perturbation
        print(f"\n{perturbation.title} ({perturbation.unit})")
        print(f"{'':<9}" + "".join(f"{level:>7g}" for level in perturbation.levels))
        for key, values in row.accuracy.items():
            print(f"{names[key]:<9}" + "".join(f"{100 * value:>7.1f}" for value in values))
        print(summary_sentence(row, names))
    return EXIT_OK


def _drawn(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .comparison import accuracy_interval
    from .data import load_mnist
    from .drawn import check
    from .predict import load_model_set
    from .recipes import BEST_VALIDATION

    chosen = _default_runs(args.runs, args.models)
    models = load_model_set(chosen)
    data = load_mnist(args.data_dir)
    if args.split == "validation":
        trained_on_them = [f"{_shown(run.path)} ({run.validation_images:,})" for run in chosen.values()
                           if run.validation_images != BEST_VALIDATION]
        if trained_on_them:
            raise ValueError(f"--split validation re-draws the {BEST_VALIDATION:,} training images the best recipe "
                             "holds out, but these runs did not hold out (the same) images: "
                             + ", ".join(trained_on_them) + ". Use the test split, or runs of the best recipe.")
        _, held_out = data.validation_split(BEST_VALIDATION)
        images, labels = held_out.images, held_out.labels
    else:
        images, labels = data.test_images, data.test_labels
    with tqdm(desc="drawings", unit="drawing", dynamic_ncols=True, leave=False) as bar:
        def show(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        results = check(models, images.numpy(), labels.numpy(), args.images, args.seed,
                        normalise_width=not args.keep_width, on_progress=show)
    width = "kept" if args.keep_width else "normalised"
    if args.json:
        print(json.dumps({"split": args.split, "images": args.images, "seed": args.seed, "stroke_width": width,
                          "runs": {key: _shown(run.path) for key, run in chosen.items()},
                          "sets": [result.to_dict() for result in results]}, indent=2, allow_nan=False))
        return EXIT_OK
    print(f"Accuracy on MNIST {args.split} digits re-drawn on a 280x280 canvas "
          f"(seed {args.seed}; stroke width {width}): "
          + ", ".join(f"{MODELS[key].name} {_shown(run.path)}" for key, run in chosen.items()))
    for result in results:
        refused = f"; {result.unreadable} refused as unreadable" if result.unreadable else ""
        print(f"\n{result.name}, {result.images:,} drawings{refused}")
        for key, correct in result.drawn.correct.items():
            low, high = accuracy_interval(correct, result.images)
            print(f"  {MODELS[key].name:<9} {100 * correct / result.images:6.2f}%  "
                  f"(95% CI {100 * low:.2f}–{100 * high:.2f}%)")
        blobs, written = result.blobs, result.as_written
        if blobs.images:
            print(f"  of which {blobs.images:,} with a brush over a quarter of the digit's height (loops fill in): "
                  + ", ".join(f"{MODELS[key].name} {100 * value:.1f}%" for key, value in blobs.accuracy.items()))
        small, rest = result.drawn_small, result.not_drawn_small
        if small is not None and small.images and rest.images:  # with none left, "on the other 0" says nothing
            print(f"  the app tells {small.images:,} \"drawn small for the pen\" (Draw page); on the other "
                  f"{rest.images:,}: " + ", ".join(f"{MODELS[key].name} {100 * value:.2f}%"
                                                   for key, value in rest.accuracy.items()))
        print("  the same digits as MNIST has them, through the same preprocessing: "
              + ", ".join(f"{MODELS[key].name} {100 * value:.2f}%" for key, value in written.accuracy.items()))
    return EXIT_OK


def _audience_store(db: str | None) -> AudienceStore:
    """The store ``--db`` names, else the workspace's (``$MNIST_AUDIENCE_DB``, else runs/audience.sqlite3)."""
    from .audience import open_audience_store

    return open_audience_store(db) if db else Workspace().audience_store()


def _audience_stats(args: argparse.Namespace) -> int:
    from .audience import damaged_skipped
    from .comparison import accuracy_interval

    store = _audience_store(args.db)
    stats = store.stats()
    # The models shown by default (null before their first drawing), and any other that answered.
    keys = [key for key in MODEL_KEYS if key in default_model_keys() or stats.answered.get(key)]
    accuracy = {key: (round(value, 6) if (value := stats.accuracy(key)) is not None else None) for key in keys}
    if args.json:
        print(json.dumps({"drawings": stats.drawings, "accuracy": accuracy, "damaged": stats.damaged,
                          "hidden": stats.hidden}, allow_nan=False))
        return EXIT_OK
    print(f"{stats.drawings:,} labelled drawing(s) in {_store_shown(store)}")
    if stats.hidden:
        print(f"{stats.hidden:,} hidden by the presenter (not scored).")
    if stats.damaged:
        print(f"{damaged_skipped(stats.damaged)}.")
    for key in keys:
        if stats.answered[key]:
            low, high = accuracy_interval(stats.correct[key], stats.answered[key])
            print(f"{MODELS[key].name:<9} {100 * accuracy[key]:6.1f}%  ({stats.correct[key]} of {stats.answered[key]}; "
                  f"95% CI {100 * low:.1f}–{100 * high:.1f}%)")
    return EXIT_OK


def _audience_hide(args: argparse.Namespace) -> int:
    store = _audience_store(args.db)
    session = None
    if args.session is not None:
        phones = store.phones()
        matches = [phone for phone in phones if phone.session == args.session] or \
                  [phone for phone in phones if phone.nickname.lower() == args.session.strip().lower()]
        if not matches:
            raise ValueError(f"No phone {args.session!r} in {_store_shown(store)}: `python -m mnist_core audience "
                             "phones` lists each one's session and nickname.")
        if len(matches) > 1:
            raise ValueError(f"{len(matches)} phones are called {args.session!r}: give the session instead "
                             f"({', '.join(phone.session for phone in matches)}).")
        session = matches[0].session
    if args.id:
        missing = sorted(set(args.id) - store.known_ids(args.id))
        if missing:
            raise ValueError(f"No drawing {', '.join(f'#{number}' for number in missing)} in {_store_shown(store)}: "
                             "the Audience page's Moderate section numbers each one.")
    changed = store.hide(ids=args.id or (), session=session, undo=args.undo)
    what = f"{matches[0].nickname}'s drawings" if session is not None else "drawing(s)"
    print(f"{'Shown again' if args.undo else 'Hidden'}: {changed:,} {what}"
          + (" (and any it sends later)" if session is not None and not args.undo else "") + ".")
    return EXIT_OK


def _audience_phones(args: argparse.Namespace) -> int:
    phones = _audience_store(args.db).phones()
    if args.json:
        print(json.dumps([{"nickname": phone.nickname, "session": phone.session, "drawings": phone.drawings,
                           "last": phone.last, "hidden": phone.hidden} for phone in phones]))
        return EXIT_OK
    if not phones:
        print("No drawings yet.")
    for phone in phones:
        print(f"{phone.nickname:<20} {phone.drawings:>5} drawing(s)  last {phone.last[:16].replace('T', ' ')} UTC  "
              f"{phone.session}" + ("  hidden" if phone.hidden else ""))
    return EXIT_OK


def _audience_game(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from .game import ROUND_MINUTES, Game, GameError

    game = Game(_audience_store(args.db))
    if args.minutes is not None and args.action != "start":
        raise ValueError("--minutes sets the length of a round being started: `audience game start --minutes M`.")
    if args.action == "start":
        try:
            started = game.start(ROUND_MINUTES if args.minutes is None else args.minutes)
        except GameError as error:
            raise ValueError(str(error)) from None
        if not args.json:
            print(f"Round {started.id} started: {_minutes(started.ends - started.started)}. Phones on /join play now.")
    elif args.action == "stop":
        stopped = game.stop()
        if not args.json:
            print("No round was running." if stopped is None else f"Round {stopped.id} stopped.")
    standings = game.standings(default_model_keys())
    now = datetime.now(UTC)
    if args.json:
        print(json.dumps(standings.to_json(now)))
        return EXIT_OK
    if args.action:
        return EXIT_OK
    if standings.round is None:
        print("No round yet: `python -m mnist_core audience game start --minutes 5` starts one.")
        return EXIT_OK
    left = standings.round.seconds_left(now)
    print(f"Round {standings.round.id}: " + (f"{left // 60}:{left % 60:02d} left." if left else "over."))
    for key, fooled in standings.models.items():
        print(f"  {MODELS[key].name if key in MODELS else key:<16} fooled {fooled:,} time(s)")
    for place, player in enumerate(standings.players, 1):
        print(f"{place:>3}. {player.nickname:<20} {player.points:>4} point(s)")
    print(f"The class's hard set: {standings.hard_set:,} drawing(s).")
    return EXIT_OK


def _audience_finetune(args: argparse.Namespace) -> int:
    from .data import load_mnist
    from .finetune import (
        FinetuneConfig,
        class_drawings,
        finetune_model,
        finetune_on_ray,
        keep_or_refuse,
        split_by_session,
    )
    from .runs import load_model, prepare_runs_folder

    workspace = Workspace()
    keys = list(args.models or default_model_keys())
    starts = workspace.runs_in_use(include=keys)
    missing = [key for key in keys if key not in starts]
    if missing:
        raise RunError(workspace.runs, f"holds no usable run of {', '.join(missing)}. Train one with: "
                                       f"python -m mnist_core train --model {missing[0]}")
    starts = {key: starts[key] for key in keys}
    settings = FinetuneConfig(**({} if args.epochs is None else {"epochs": args.epochs}))
    settings.check()
    drawings, unconfirmed = class_drawings(_audience_store(args.db))
    split = split_by_session(drawings, unconfirmed=unconfirmed)  # too few: NotEnoughDrawings, a ValueError
    data = load_mnist(args.data_dir)
    out = prepare_runs_folder(args.out or workspace.runs)
    say = (lambda line: None) if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    say(f"Fine-tuning {', '.join(MODELS[key].name for key in keys)} on {len(split.train):,} drawings of "
        f"{len(split.train_sessions)} phones; {len(split.held_out):,} drawings of {len(split.held_out_sessions)} "
        "other phones held out to test on.")
    if len(starts) > 1:  # one Ray task per model, as a seed group's runs
        outcomes = finetune_on_ray(starts, split, str(data.root), out, settings, address=args.ray_address,
                                   on_finished=lambda key, outcome: say(f"{MODELS[key].name}: done."))
    else:
        if args.ray_address:
            raise ValueError("--ray-address goes with several --models (one Ray task per model).")
        (key, start), = starts.items()

        def show(progress) -> None:
            if progress.epoch_finished:
                say(f"{MODELS[key].name}: epoch {progress.epoch} of {progress.epochs}, MNIST test "
                    f"{100 * progress.history[-1].test_accuracy:.2f} %")

        result = finetune_model(key, load_model(start), split, data, settings, on_progress=show)
        outcomes = [keep_or_refuse(result, start, split, out)]
    reports = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    errors = [f"{MODELS[key].name} {outcome}" for key, outcome in zip(starts, outcomes) if isinstance(outcome, str)]
    if args.use and reports:
        workspace.use_for_room({**workspace.room_runs(), **{report.model_key: str(report.run) for report in reports
                                                            if report.run is not None}})
    if args.json:
        print(json.dumps({"held_out_sessions": len(split.held_out_sessions),
                          "runs": [report.to_json(_shown) for report in reports]}, indent=2, allow_nan=False))
    else:
        for report in reports:
            print(report.sentence() + (f" (McNemar p = {report.mcnemar_p:.3g}). Saved to {_shown(report.run)}"
                                       if report.run is not None else ""))
    for message in errors + [f"{MODELS[r.model_key].name} refused: {r.refused}" for r in reports if r.refused]:
        print(f"error: {message}", file=sys.stderr)
    return EXIT_FAILED if errors or any(report.refused for report in reports) else EXIT_OK


def _minutes(span) -> str:
    minutes = span.total_seconds() / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


def _audience_export(args: argparse.Namespace) -> int:
    from .audience import LABELS_FILE, damaged_skipped

    store = _audience_store(args.db)
    if args.folder.exists() and not args.folder.is_dir():
        raise ValueError(f"{args.folder} is a file: give a folder to write the drawings into.")
    try:
        export = store.export(args.folder)
    except OSError as error:
        raise ValueError(f"Cannot write into {args.folder}: {error.strerror or error}. No partial file was left: "
                         f"the drawings written are whole, and {LABELS_FILE} was not updated.") from None
    print(f"Wrote {export.drawings:,} drawing(s) and {_shown(export.labels)}. Read them back with: "
          f"python -m mnist_core predict {_shown(args.folder)}/*.png")
    if export.damaged:
        print(f"{damaged_skipped(export.damaged, export=True)}.")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from .onnx_export import OnnxExportError, compare_onnx, export_onnx, write_int8_check
    from .runs import load_model

    if args.save and not (args.int8 and args.check):
        raise ValueError("--save stores the int8 check: give it with --int8 --check.")
    runs = _default_runs(args.runs, args.models)
    test_set = None
    if args.check or args.int8:
        from .data import load_mnist

        data = load_mnist(args.data_dir)
        test_set = (data.test_images.numpy().astype(np.float32) / 255,  # as prepare_digit gives them: [0, 1]
                    data.test_labels.numpy())
    try:
        # --check: the int8 weights checked anew, not as a check stored beside the run says
        exported = export_onnx(runs, args.onnx, half=args.fp16, int8_on=test_set if args.int8 else None,
                               stored=not args.check)
        saved = [write_int8_check(runs[model.key], model.int8) for model in exported if args.save and model.int8]
    except OnnxExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    rows = [{"model": model.key, "name": model.name, "run": _shown(runs[model.key].path),
             "file": _shown(args.onnx / model.file), "bytes": model.bytes, "sha256": model.sha256,
             "accuracy": round(model.accuracy, 6), "weights": model.weights,
             "int8_refused": model.int8.refused if model.int8 else None} for model in exported]
    if args.check:
        pixels, labels = test_set
        for row, model in zip(rows, exported):
            largest, answers, torch_answers = compare_onnx(args.onnx / model.file, load_model(runs[model.key]), pixels)
            row["onnx_accuracy"] = round(float((answers == labels).mean()), 6)
            row["torch_accuracy"] = round(float((torch_answers == labels).mean()), 6)
            row["differing_answers"] = int((answers != torch_answers).sum())  # of the 10,000: not PyTorch's
            row["largest_difference"] = largest
    if args.json:
        print(json.dumps({"folder": _shown(args.onnx), "models": rows}, indent=2, allow_nan=False))
        return EXIT_OK
    print(f"{'model':<14} {'size':>8}  {'weights':<7}  {'accuracy':>9}"
          + (f"  {'ONNX':>8}  {'max |Δp|':>9}  {'answers ≠ PyTorch':>17}" if args.check else "") + "  file")
    for row in rows:
        check = (f"  {100 * row['onnx_accuracy']:>7.2f}%  {row['largest_difference']:>9.1e}  "
                 f"{row['differing_answers']:>8,} of {len(test_set[1]):,}" if args.check else "")
        print(f"{row['name']:<14} {row['bytes'] / 1e6:>6.2f} MB  {row['weights']:<7}  {100 * row['accuracy']:>8.2f}%"
              f"{check}  {row['file']}")
    for row in rows:
        if row["int8_refused"]:
            print(f"{row['name']}: {row['int8_refused']}; stored as float16")
    print(f"manifest: {_shown(args.onnx / 'manifest.json')}")
    for path in saved:
        print(f"int8 check stored: {_shown(path)}")
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from .bench import format_markdown, run_bench

    report = run_bench(args.data_dir, quick=args.quick, parts=args.only,
                       log=lambda line: print(f"bench: {line}", file=sys.stderr, flush=True),
                       class_phones=args.class_phones)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_markdown(report))
    return EXIT_OK


def _class_phones(text: str) -> int:
    """5 phones at the least (3 held out, 2 to learn from); at the most, as many as fill an audience store."""
    from .audience import MAX_DRAWINGS

    most = MAX_DRAWINGS // DRAWINGS_PER_PHONE
    try:
        phones = int(text)
    except ValueError:
        phones = 0
    if not 5 <= phones <= most:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of phones from 5 to {most:,} (an audience "
                                         f"store holds {MAX_DRAWINGS:,} drawings, {DRAWINGS_PER_PHONE} a phone)")
    return phones


def _seed_list(text: str) -> tuple[int, ...]:
    """``5``: seeds 0 to 4; ``0,3,7``: those seeds."""
    if "," not in text:
        try:
            count = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number of seeds (5 trains seeds 0 to 4) or the seeds "
                                             "themselves (0,3,7)") from None
        if count < 1:
            raise argparse.ArgumentTypeError(f"{count} seeds: train at least 1 (5 trains seeds 0 to 4; to train seed 0 "
                                             "alone, --seeds 1, or name seeds: --seeds 0,3)")
        if count > MAX_SEED_GROUP_RUNS:
            raise argparse.ArgumentTypeError(f"{count:,} seeds: a seed group trains at most {MAX_SEED_GROUP_RUNS:,} "
                                             "runs; give fewer")
        return tuple(range(count))
    seeds = tuple(dict.fromkeys(_seed(part.strip()) for part in text.split(",") if part.strip()))
    if not seeds:
        raise argparse.ArgumentTypeError("name at least one seed")
    if len(seeds) > MAX_SEED_GROUP_RUNS:
        raise argparse.ArgumentTypeError(f"{len(seeds):,} seeds: a seed group trains at most {MAX_SEED_GROUP_RUNS:,} "
                                         "runs; give fewer")
    return seeds


def _model_keys(text: str) -> tuple[str, ...]:
    if text.strip() == "all":
        return tuple(MODEL_KEYS)
    keys = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [key for key in keys if key not in MODELS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(MODEL_KEYS)}, or all")
    return keys


def _bench_parts(text: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [part for part in parts if part not in BENCH_PARTS]
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(BENCH_PARTS)}")
    return parts


def _image_count(text: str) -> int | None:
    if text.strip().lower() == "all":
        return None
    return _positive_int(text)


def _store_shown(store: AudienceStore) -> str:
    """Where an audience store is: its file as :func:`_shown` gives it, or its address without a password."""
    return store.describe() if store.path is None else _shown(store.path)


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies inside it (shorter, stable in JSON)."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def _positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def _count(text: str) -> int:
    return _whole_number(text, minimum=0)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is a whole number from 0 to {MAX_SEED:,}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value
