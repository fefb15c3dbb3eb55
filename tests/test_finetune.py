"""Teaching the models with the class's drawings (mnist_core.finetune, `audience finetune`): whole phones held
out, the MNIST guard, too few drawings, hidden ones left out, the new run on Draw and /join."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import numpy as np
import pytest
import torch

from mnist_core import finetune
from mnist_core.audience import AudienceStore, Drawing
from mnist_core.cli import main
from mnist_core.data import load_mnist, normalize
from mnist_core.evaluation import evaluation_from_logits
from mnist_core.finetune import (
    FinetuneConfig,
    FinetuneResult,
    NotEnoughDrawings,
    class_drawings,
    finetune_model,
    ids_digest,
    keep_or_refuse,
    latest_class_runs,
    split_by_session,
)
from mnist_core.game import Game
from mnist_core.runs import find_runs, load_model, read_run
from mnist_core.workspace import Workspace
from tests.support import PROJECT_ROOT

QUICK = FinetuneConfig(epochs=1, mnist_images=64, batch_size=32)


def drawings(sessions: int, per_digit: int = 2, seed: int = 0) -> list[Drawing]:
    """``per_digit`` drawings of each digit from each of ``sessions`` phones, each its own random pixels."""
    rng = np.random.default_rng(seed)
    made = []
    for session in range(sessions):
        for digit in range(10):
            for _ in range(per_digit):
                made.append(Drawing(len(made) + 1, "t", f"phone-{session}", digit, {}, {}, {},
                                    rng.integers(0, 256, (28, 28), dtype=np.uint8), b""))
    return made


def fill_store(store: AudienceStore, sessions: int, per_digit: int = 2) -> None:
    for drawing in drawings(sessions, per_digit):
        store.add(label=drawing.label, canvas_png=drawing.pixels.tobytes(), pixels=drawing.pixels,
                  answers={"mlp": np.eye(10)[drawing.label]}, runs={}, session=drawing.session)


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "audience.sqlite3"
    monkeypatch.setenv("MNIST_AUDIENCE_DB", str(path))
    return AudienceStore(path)


# --- the hold-out ---------------------------------------------------------------------------------

def test_whole_phones_are_held_out_about_30_percent_and_at_least_three():
    split = split_by_session(drawings(10))
    assert len(split.held_out_sessions) == 3 and len(split.train_sessions) == 7
    assert not set(split.held_out_sessions) & set(split.train.sessions)
    assert set(split.held_out.sessions) == set(split.held_out_sessions)
    assert not set(split.train.ids.tolist()) & set(split.held_out.ids.tolist())
    assert len(split.train) + len(split.held_out) == 200
    assert len(split_by_session(drawings(30, 1)).held_out_sessions) == 9
    assert len(split_by_session(drawings(4, 3)).held_out_sessions) == 3  # the fewest: three aside, one to learn
    assert split_by_session(drawings(10), seed=0).held_out_sessions == split_by_session(drawings(10)).held_out_sessions


@pytest.mark.slow
def test_no_held_out_phones_drawing_reaches_training(fake_mnist_root, monkeypatch):
    """Every batch the model trains on is recorded: none holds a held-out drawing, all hold drawings to learn."""
    import mnist_core.models

    split = split_by_session(drawings(5))
    held = normalize(torch.from_numpy(split.held_out.pixels)).flatten(1)
    learnt = normalize(torch.from_numpy(split.train.pixels)).flatten(1)
    batches = []
    build = mnist_core.models.build_model

    def recording(key, **options):
        model = build(key, **options)
        model.register_forward_pre_hook(lambda module, inputs: batches.append(inputs[0].detach().flatten(1))
                                        if module.training else None)
        return model

    monkeypatch.setattr(mnist_core.models, "build_model", recording)
    data = load_mnist(fake_mnist_root, download=False)
    result = finetune_model("mlp", load_model(PROJECT_ROOT / "checkpoints" / "mlp"), split, data,
                            FinetuneConfig(epochs=2, mnist_images=96, batch_size=32, augment=False))
    assert len(batches) == 2 * 4 and not result.stopped  # 24 MNIST images and 8 drawings a batch
    shown = torch.cat(batches)
    assert not (torch.cdist(shown, held) < 1).any()  # random drawings lie about 40 apart; the same one at 0
    assert (torch.cdist(shown, learnt).min(dim=1).values < 1).sum() == 2 * 4 * 8
    assert len(result.held_out_before) == len(result.held_out_after) == len(split.held_out) == 60


# --- too few, hidden, damaged ---------------------------------------------------------------------

@pytest.mark.parametrize("sessions, per_digit, fewest", [(3, 4, "3 phones"), (4, 2, "the digit 0")])
def test_too_few_drawings_get_one_clear_message(sessions, per_digit, fewest):
    with pytest.raises(NotEnoughDrawings, match=r"Too few drawings") as raised:
        split_by_session(drawings(sessions, per_digit))
    assert fewest in str(raised.value) and "at least 10 of each digit from at least 4 phones" in str(raised.value)


def test_at_the_limits_it_teaches():
    assert len(split_by_session(drawings(4, 3)).train_sessions) == 1  # 4 phones: three aside, one to learn from
    ten_each = drawings(5, 2)  # 5 phones × 2 = 10 of each digit: enough
    assert len(split_by_session(ten_each).train) == 40
    with pytest.raises(NotEnoughDrawings):
        split_by_session(ten_each[1:])  # a 0 short


def test_too_few_drawings_on_the_command_line_saves_nothing(store, user_runs, capsys):
    fill_store(store, 3)
    assert main(["audience", "finetune", "--models", "mlp"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: Too few drawings") and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and not user_runs.exists()


@pytest.mark.slow
def test_hidden_and_damaged_drawings_are_left_out(store):
    fill_store(store, 6, per_digit=3)
    prankster = store.drawings()[0].session
    store.hide(session=prankster)
    one = next(d for d in store.drawings() if d.session != prankster)
    store.hide(ids=[one.id])
    with sqlite3.connect(store.path) as connection:
        connection.execute("UPDATE drawings SET answers = 'this is not JSON' WHERE id = ?", (one.id + 1,))
    split = split_by_session(store.drawings())
    used = set(split.train.ids.tolist()) | set(split.held_out.ids.tolist())
    assert prankster not in split.train_sessions + split.held_out_sessions
    assert one.id not in used and one.id + 1 not in used and len(used) == 180 - 30 - 2


@pytest.mark.slow
def test_a_rounds_fooling_drawings_teach_only_once_a_classmate_read_them_as_labelled(store):
    """Fool the models: a drawing made to be misread carries the drawer's label alone until a classmate confirms it
    (the check can also say it was a scribble); only a confirmed one, or one that fooled no model, is taught."""
    fill_store(store, 6, per_digit=3)
    game = Game(store)
    game.start(minutes=5)

    def drawn(session: str, read_as: int) -> int:
        stored = store.add(label=7, canvas_png=session.encode(), pixels=np.full((28, 28), 9, np.uint8),
                           answers={"mlp": np.eye(10)[read_as], "cnn": np.eye(10)[7]}, runs={}, session=session)
        game.enter(stored)
        return stored

    def checked(drawing: int, checker: str, digit: int) -> None:
        assert game.offer_check(checker).id == drawing
        game.answer_check(checker, drawing, digit)

    confirmed = drawn("join-confirmed", read_as=1)
    checked(confirmed, "join-reader-a", 7)
    scribble = drawn("join-scribble", read_as=1)
    checked(scribble, "join-reader-b", 1)  # the classmate read what the model read, not the label
    pending = drawn("join-pending", read_as=1)
    plain = drawn("join-plain", read_as=7)  # fooled no model: nothing to check
    drawings, unconfirmed = class_drawings(store)
    taught = {drawing.id for drawing in drawings}
    assert {confirmed, plain} <= taught and not {scribble, pending} & taught
    assert len(taught) == 180 + 2 and unconfirmed == 2
    with pytest.raises(NotEnoughDrawings, match=r"\(2 Fool-the-models drawings that no classmate has confirmed are "
                                                r"left out\.\)"):
        split_by_session(drawings[-30:], unconfirmed=unconfirmed)


# --- the MNIST guard ------------------------------------------------------------------------------

def _result(key: str, model, before_right: int, after_right: int, split) -> FinetuneResult:
    """A fine-tuning whose MNIST test (10,000 images) went from ``before_right`` to ``after_right`` right."""
    labels = torch.zeros(10_000, dtype=torch.long)

    def evaluation(right):
        logits = torch.zeros(10_000, 10)
        logits[:right, 0] = 1
        logits[right:, 1] = 1
        return evaluation_from_logits(logits, labels)

    held = split.held_out.labels
    return FinetuneResult(key, model, QUICK, held_out_before=held.copy(), held_out_after=held.copy(),
                          mnist_before=evaluation(before_right), mnist_after=evaluation(after_right),
                          training_seconds=1.0, train_images=10)


@pytest.mark.parametrize("after, kept", [(9_913, True), (9_912, False)])
def test_a_run_that_forgets_mnist_is_refused_and_not_saved(tmp_path, after, kept):
    start = read_run(PROJECT_ROOT / "checkpoints" / "mlp")
    split = split_by_session(drawings(5))
    report = keep_or_refuse(_result("mlp", load_model(start), 9_928, after, split), start, split, tmp_path / "runs")
    assert bool(report.run) is kept and bool(report.refused) is not kept
    if kept:  # 0.15 points down: the most allowed
        assert report.run.name.startswith("mlp-class-") and (report.run / "run.json").is_file()
    else:
        assert "fell 0.16 points (99.28 % → 99.12 %; at most 0.15 are allowed), so it was not saved" in report.refused
        assert not (tmp_path / "runs").exists() or not find_runs(tmp_path / "runs")[0]
        assert report.to_json()["run"] is None and "Refused" in report.sentence()


def test_a_class_run_records_what_it_saw_and_its_before_and_after(tmp_path):
    start = read_run(PROJECT_ROOT / "checkpoints" / "cnn")
    split = split_by_session(drawings(10))
    report = keep_or_refuse(_result("cnn", load_model(start), 9_928, 9_925, split), start, split, tmp_path)
    saved = read_run(report.run)
    assert saved.recipe == "class" and saved.config["from_run"] == "cnn"
    assert saved.config["class_drawings_sha256"] == ids_digest(split.train.ids) == split.digest
    assert saved.config["class_drawings"] == 140 and saved.config["held_out_sessions"] == 3
    assert saved.config["held_out_sha256"] == ids_digest(split.held_out.ids) != split.digest
    assert load_model(saved) is not None
    (again,) = latest_class_runs(find_runs(tmp_path)[0])
    assert again == report
    assert report.sentence() == ("CNN: 100 % → 100 % on the drawings of 3 phones it never saw; MNIST test "
                                 "99.28 % → 99.25 %")
    # The issue's own example; one decimal where whole percents would hide the change
    assert replace(report, held_out_before=0.84, held_out_after=0.93, held_out_sessions=9).sentence() == (
        "CNN: 84 % → 93 % on the drawings of 9 phones it never saw; MNIST test 99.28 % → 99.25 %")
    assert "98.6 % → 98.9 % on the drawings of 1 phone it" in replace(
        report, held_out_before=0.9861, held_out_after=0.9889, held_out_sessions=1).sentence()


# --- the command line -----------------------------------------------------------------------------

@pytest.mark.slow
def test_the_command_line_fine_tunes_and_reports_in_json(store, user_runs, fake_mnist_root, capsys, monkeypatch):
    monkeypatch.setattr(finetune, "MAX_MNIST_DROP", 100.0)  # 40 fake test images: one is 2.5 points
    fill_store(store, 5)
    assert main(["audience", "finetune", "--models", "mlp", "--epochs", "1", "--json", "--use",
                 "--data-dir", str(fake_mnist_root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["held_out_sessions", "runs"] and report["held_out_sessions"] == 3
    (run,) = report["runs"]
    assert list(run) == ["model", "from_run", "run", "held_out", "mnist_test"]
    assert list(run["held_out"]) == ["n", "before", "after", "mcnemar_p"] and run["held_out"]["n"] == 60
    assert list(run["mnist_test"]) == ["before", "after"] and run["model"] == "mlp" and run["from_run"] == "mlp"
    saved = read_run(run["run"])
    assert saved.run_id.startswith("mlp-class-") and saved.path.parent == user_runs
    assert Workspace().runs_in_use()["mlp"].path == saved.path  # --use: the room's model now


@pytest.mark.slow
def test_a_refused_run_on_the_command_line_says_why(store, user_runs, fake_mnist_root, capsys, monkeypatch):
    monkeypatch.setattr(finetune, "MAX_MNIST_DROP", -1.0)  # every run "forgets"
    fill_store(store, 5)
    assert main(["audience", "finetune", "--models", "mlp", "--epochs", "1", "--data-dir", str(fake_mnist_root)]) == 1
    captured = capsys.readouterr()
    assert "MLP:" in captured.out and "Refused" in captured.out and "error: MLP refused" in captured.err
    assert "Traceback" not in captured.err and not find_runs(user_runs)[0]


@pytest.mark.slow
def test_bad_settings_and_missing_runs_are_said_without_a_traceback(store, user_runs, capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["audience", "finetune", "--models", "nothing"])
    assert "choose from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audience", "finetune", "--epochs", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    monkeypatch.setenv("MNIST_CHECKPOINTS_DIR", str(user_runs / "none"))
    fill_store(store, 5)
    assert main(["audience", "finetune", "--models", "cnn"]) == 1
    assert "holds no usable run of cnn" in capsys.readouterr().err


# --- the new run on Draw and /join ----------------------------------------------------------------

def class_run(folder, key: str = "cnn"):
    """A class run of ``key`` in ``folder``: the shipped weights, recorded as fine-tuned."""
    start = read_run(PROJECT_ROOT / "checkpoints" / key)
    split = split_by_session(drawings(5))
    return keep_or_refuse(_result(key, load_model(start), 9_928, 9_925, split), start, split, folder)


@pytest.mark.slow
def test_the_room_uses_a_class_run_once_the_presenter_chooses_it(user_runs):
    report = class_run(user_runs)
    workspace = Workspace(PROJECT_ROOT)
    assert workspace.runs_in_use()["cnn"].run_id == "cnn"  # the shipped checkpoint until chosen
    workspace.use_for_room({"cnn": str(report.run)})
    assert workspace.runs_in_use()["cnn"].path == report.run
    assert workspace.runs_in_use({"cnn": str(PROJECT_ROOT / "checkpoints" / "cnn")})["cnn"].run_id == "cnn"
    workspace.use_for_room({})
    assert workspace.runs_in_use()["cnn"].run_id == "cnn" and workspace.room_runs() == {}
    (user_runs / "room-runs.json").write_text("[not a mapping")
    assert workspace.room_runs() == {}


@pytest.mark.slow
def test_join_serves_the_class_run_once_chosen(join_app):
    from join.routes import models_in_use

    workspace = Workspace(PROJECT_ROOT)
    report = class_run(workspace.runs)
    assert models_in_use(workspace)[1]["cnn"].run_id == "cnn"
    workspace.use_for_room({"cnn": str(report.run)})
    assert models_in_use(workspace)[1]["cnn"].path == report.run
    listing = join_app.client.get("/join/models")
    assert listing.status_code == 200 and "cnn" in [model["key"] for model in listing.json()["models"]]
    workspace.use_for_room({})


# --- end to end on real MNIST ---------------------------------------------------------------------

def test_fine_tuning_on_drawn_digits_of_real_mnist(real_mnist, tmp_path):
    """Drawings of 5 phones made from real training digits; LeNet-5 taught briefly: the numbers are sane and the run
    reads back."""
    images, labels = real_mnist.train_images[:3000].numpy(), real_mnist.train_labels[:3000].numpy()
    made = finetune.class_of_phones(images, labels, phones=5, per_phone=20, seed=3)
    assert len(made) == 100 and {d.session for d in made} == {f"phone-3-{n:03d}" for n in range(5)}
    assert all(np.bincount([d.label for d in made if d.session == "phone-3-000"], minlength=10) == 2)
    split = split_by_session([Drawing(n, "t", d.session, d.label, {}, {}, {}, d.pixels, b"")
                              for n, d in enumerate(made)])
    start = read_run(PROJECT_ROOT / "checkpoints" / "lenet5")
    result = finetune_model("lenet5", load_model(start), split, real_mnist,
                            FinetuneConfig(epochs=1, mnist_images=1_000))
    assert result.mnist_before.accuracy == pytest.approx(start.accuracy)
    assert abs(result.mnist_after.accuracy - start.accuracy) < 0.01
    assert (result.held_out_before == split.held_out.labels).mean() > 0.9
    report = keep_or_refuse(result, start, split, tmp_path)
    assert report.held_out == 60 and report.held_out_sessions == 3
    assert "on the drawings of 3 phones it never saw; MNIST test 99.37 % →" in report.sentence()
    if report.run is not None:
        assert read_run(report.run).accuracy == pytest.approx(result.mnist_after.accuracy)


@pytest.mark.ray
def test_several_models_are_fine_tuned_as_ray_tasks(store, user_runs, fake_mnist_root, capsys, monkeypatch):
    monkeypatch.setattr(finetune, "MAX_MNIST_DROP", 100.0)  # kept or refused on the driver, whatever the worker
    monkeypatch.setenv("MNIST_DATA_DIR", str(fake_mnist_root))
    fill_store(store, 5)
    assert main(["audience", "finetune", "--models", "mlp,lenet5", "--epochs", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [run["model"] for run in report["runs"]] == ["mlp", "lenet5"]
    assert sorted(run.model_key for run in find_runs(user_runs)[0]) == ["lenet5", "mlp"]
