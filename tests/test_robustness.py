"""Perturbations, sweeps, their sentences and stored results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mnist_core.evaluation import evaluate
from mnist_core.robustness import (
    PERTURBATION_NAMES,
    PERTURBATIONS,
    STORED_FILE,
    PerturbationResult,
    build_sweep,
    get_perturbation,
    headline,
    nudge,
    perturb,
    read_stored,
    sample_indices,
    summary_sentence,
    sweep,
    sweep_runs,
    write_stored,
)
from mnist_core.runs import load_model, read_run
from tests.support import PROJECT_ROOT

NAMES = {"mlp": "MLP", "cnn": "CNN", "lenet5": "LeNet-5"}


def digit_like(count: int = 3) -> torch.Tensor:
    """Asymmetric strokes in [0, 1] near the centre, away from the border."""
    pixels = torch.zeros(count, 28, 28)
    pixels[:, 8:20, 12:15] = 1.0  # a vertical bar
    pixels[:, 8:11, 12:19] = 0.8  # a flag at its top, to the right: no symmetry
    pixels[:, 19, 10:16] = 0.5
    return pixels


def centre_of_mass(pixels: torch.Tensor) -> tuple[float, float]:
    rows, columns = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    mass = pixels.sum()
    return float((pixels * rows).sum() / mass), float((pixels * columns).sum() / mass)


def test_every_perturbation_has_the_documented_name_and_an_identity_level():
    assert PERTURBATION_NAMES == ("shift_x", "shift_y", "rotation", "scale", "thickness", "noise", "occlusion")
    for perturbation in PERTURBATIONS:
        assert perturbation.identity in perturbation.levels
        assert list(perturbation.levels) == sorted(perturbation.levels)
        assert 7 <= len(perturbation.levels) <= 13
    assert get_perturbation("shift_x").levels[0] == -6 and get_perturbation("shift_x").levels[-1] == 6
    with pytest.raises(ValueError, match="choose from shift_x"):
        get_perturbation("blur")


@pytest.mark.parametrize("name", PERTURBATION_NAMES)
def test_the_identity_level_changes_nothing_and_every_other_level_changes_something(name):
    pixels = digit_like()
    perturbation = get_perturbation(name)
    assert torch.equal(perturb(pixels, name, perturbation.identity), pixels)
    for level in perturbation.levels:
        if level != perturbation.identity:
            assert not torch.equal(perturb(pixels, name, level), pixels), level


def test_rotation_by_zero_and_scale_100_are_identities_through_the_transform_too():
    pixels = digit_like(1)[0].numpy()
    np.testing.assert_allclose(nudge(pixels, rotation=0.0, scale=100.0, shift_x=0.0), pixels)
    # Through torchvision's affine (a tiny angle forces it): equal to float rounding.
    np.testing.assert_allclose(nudge(pixels, rotation=1e-9), pixels, atol=1e-5)


@pytest.mark.parametrize("axis, name", [(1, "shift_x"), (0, "shift_y")])
@pytest.mark.parametrize("k", [-4, -2, 3, 6])
def test_a_shift_of_k_pixels_moves_the_centre_of_mass_by_k(axis, name, k):
    pixels = digit_like(1)
    before = centre_of_mass(pixels[0])
    after = centre_of_mass(perturb(pixels, name, k)[0])
    assert after[axis] - before[axis] == pytest.approx(k, abs=1e-4)
    assert after[1 - axis] == pytest.approx(before[1 - axis], abs=1e-4)


def test_positive_rotation_is_anticlockwise_as_the_sentence_says():
    pixels = digit_like(1)
    turned = perturb(pixels, "rotation", 90)
    torch.testing.assert_close(turned, torch.rot90(pixels, 1, dims=(-2, -1)), atol=1e-4, rtol=0)
    assert "anticlockwise" in get_perturbation("rotation").describe(90)


def test_scale_shrinks_and_enlarges_the_ink_about_the_centre():
    pixels = digit_like(1)

    def spread(image: torch.Tensor) -> float:
        rows, columns = torch.nonzero(image[0] > 0.25, as_tuple=True)
        return float(rows.max() - rows.min())

    assert spread(perturb(pixels, "scale", 50)) == pytest.approx(spread(pixels) / 2, abs=1.5)
    assert spread(perturb(pixels, "scale", 150)) == pytest.approx(spread(pixels) * 1.5, abs=1.5)


def test_thickness_changes_the_ink_mass_monotonically():
    pixels = digit_like(1)
    levels = get_perturbation("thickness").levels
    masses = [float(perturb(pixels, "thickness", level).sum()) for level in levels]
    assert all(lighter < heavier for lighter, heavier in zip(masses, masses[1:]))
    for level in levels:
        changed = perturb(pixels, "thickness", level)
        assert changed.min() >= 0 and changed.max() <= 1


def test_noise_is_seeded_clipped_and_of_the_given_strength():
    pixels = torch.full((50, 28, 28), 0.5)
    noisy = perturb(pixels, "noise", 0.1, seed=3)
    assert torch.equal(noisy, perturb(pixels, "noise", 0.1, seed=3))
    assert not torch.equal(noisy, perturb(pixels, "noise", 0.1, seed=4))
    assert float((noisy - pixels).std()) == pytest.approx(0.1, rel=0.05)
    assert perturb(pixels, "noise", 1.0).min() == 0 and perturb(pixels, "noise", 1.0).max() == 1


@pytest.mark.parametrize("size", [4, 10, 18])
def test_occlusion_hides_one_square_of_the_given_side_per_image(size):
    pixels = torch.ones(200, 28, 28)
    hidden = (perturb(pixels, "occlusion", size, seed=1) == 0).sum(dim=(1, 2))
    assert int(hidden.max()) == size * size and int(hidden.min()) > 0
    if size == 4:  # a small square always lies wholly on the image
        assert torch.all(hidden == 16)
    places = perturb(pixels, "occlusion", size, seed=1) == 0
    assert places.float().mean(0).std() > 0  # not the same place for every image


def test_nudge_combines_the_sliders_on_one_digit():
    pixels = digit_like(1)[0].numpy()
    moved = nudge(pixels, shift_x=2, shift_y=-1)
    before, after = centre_of_mass(torch.from_numpy(pixels)), centre_of_mass(torch.from_numpy(moved))
    assert after[1] - before[1] == pytest.approx(2, abs=1e-4) and after[0] - before[0] == pytest.approx(-1, abs=1e-4)
    assert nudge(pixels, thickness=1).sum() > pixels.sum() > nudge(pixels, thickness=-1).sum()
    assert moved.shape == (28, 28) and moved.dtype == np.float32


def test_the_sample_of_test_images_is_seeded_sorted_and_without_repeats():
    first = sample_indices(2000, seed=0)
    assert len(set(first)) == 2000 and list(first) == sorted(first) and first.max() < 10_000
    assert np.array_equal(first, sample_indices(2000, seed=0))
    assert not np.array_equal(first, sample_indices(2000, seed=1))
    assert np.array_equal(sample_indices(None), np.arange(10_000))
    with pytest.raises(ValueError, match="at least one"):
        sample_indices(0)


def test_summary_sentence_names_the_mildest_level_with_a_telling_gap():
    result = PerturbationResult(get_perturbation("shift_x"), {
        "mlp": [0.30, 0.50, 0.71, 0.95, 0.99, 0.95, 0.71, 0.60, 0.30],
        "cnn": [0.70, 0.90, 0.95, 0.98, 0.99, 0.98, 0.95, 0.90, 0.70],
        "lenet5": [0.80, 0.92, 0.96, 0.98, 0.99, 0.98, 0.96, 0.92, 0.80],
    })
    # The gaps are 50 points at ±6 px, 42 at −4 and 32 at +4: −4 is the mildest within 4/5 of the largest.
    assert summary_sentence(result, NAMES) == "Shifted 4 px left, MLP falls to 50 % while LeNet-5 keeps 92 %."
    # When the best model loses more than 10 points too, it does not "keep" anything.
    lower = {key: [v - 0.25 if i != 4 else v for i, v in enumerate(values)] for key, values in result.accuracy.items()}
    harsh = PerturbationResult(get_perturbation("shift_x"), lower)
    assert summary_sentence(harsh, NAMES) == "Shifted 4 px left, MLP falls to 25 %, LeNet-5 only to 67 %."
    close = PerturbationResult(get_perturbation("rotation"), {
        "mlp": [0.68] + [0.9] * 7 + [0.7], "cnn": [0.70] + [0.9] * 7 + [0.71], "lenet5": [0.72] + [0.9] * 7 + [0.71]})
    assert summary_sentence(close, NAMES) == "Rotated 60° clockwise, every model falls: MLP to 68 %, LeNet-5 to 72 %."
    pair = PerturbationResult(close.perturbation, {key: close.accuracy[key] for key in ("mlp", "lenet5")})
    assert summary_sentence(pair, NAMES) == "Rotated 60° clockwise, both fall: MLP to 68 %, LeNet-5 to 72 %."
    even = PerturbationResult(get_perturbation("rotation"), {key: [0.5] * 9 for key in NAMES})
    assert summary_sentence(even, NAMES).startswith("The models stay within 2 points of each other at every level")
    sweep_result = build_sweep({"shift_x": result.accuracy, "rotation": even.accuracy}, 2000, 0)
    assert headline(sweep_result, NAMES) == summary_sentence(result, NAMES)


def test_describe_says_which_way():
    assert get_perturbation("shift_x").describe(3) == "Shifted 3 px right"
    assert get_perturbation("shift_y").describe(-2) == "Shifted 2 px up"
    assert get_perturbation("scale").describe(62.5) == "Scaled to 62.5 %"
    assert get_perturbation("thickness").describe(-1.5) == "With strokes 1.5 px thinner"
    assert get_perturbation("shift_x").short(-3) == "−3 px" and get_perturbation("rotation").short(15) == "+15°"


@pytest.fixture(scope="module")
def shipped_models():
    return {key: load_model(PROJECT_ROOT / "checkpoints" / key) for key in ("mlp", "cnn", "lenet5")}


def test_level_zero_equals_plain_evaluation_on_the_same_images_exactly(real_mnist, shipped_models):
    chosen = sample_indices(300, seed=0)
    images, labels = real_mnist.test_images[chosen], real_mnist.test_labels[chosen]
    shifts = [get_perturbation("shift_x"), get_perturbation("noise")]
    result = sweep(shipped_models, images, labels, perturbations=shifts, seed=0)
    for key, model in shipped_models.items():
        plain = evaluate(model, images, labels).accuracy
        assert result["shift_x"][key][4] == plain and result["noise"][key][0] == plain
        # A shift the MLP cannot follow: the convolutional models hold on better.
    assert result["shift_x"]["mlp"][0] < result["shift_x"]["lenet5"][0]


def test_the_same_seed_gives_the_same_numbers(real_mnist, shipped_models):
    chosen = sample_indices(200, seed=5)
    images, labels = real_mnist.test_images[chosen], real_mnist.test_labels[chosen]
    random_ones = [get_perturbation("noise"), get_perturbation("occlusion")]
    first = sweep(shipped_models, images, labels, perturbations=random_ones, seed=5)
    assert first == sweep(shipped_models, images, labels, perturbations=random_ones, seed=5)
    assert first != sweep(shipped_models, images, labels, perturbations=random_ones, seed=6)


def test_progress_counts_every_level():
    seen = []
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    sweep({"mlp": model}, torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long),
          on_progress=lambda done, total: seen.append((done, total)))
    total = sum(len(p.levels) for p in PERTURBATIONS)
    assert seen == [(done, total) for done in range(1, total + 1)]


@pytest.fixture
def shipped_copy(tmp_path):
    """The shipped CNN run copied into tmp_path, so a test can write beside it."""
    import shutil

    target = tmp_path / "cnn"
    shutil.copytree(PROJECT_ROOT / "checkpoints" / "cnn", target, ignore=shutil.ignore_patterns(STORED_FILE))
    return read_run(target)


def test_a_stored_sweep_is_read_back_only_when_it_still_applies(shipped_copy):
    accuracy = {p.name: [0.5] * len(p.levels) for p in PERTURBATIONS}
    path = write_stored(shipped_copy, 2000, 0, accuracy)
    assert path.name == STORED_FILE and not list(path.parent.glob(".*tmp"))
    assert read_stored(shipped_copy, 2000, 0) == accuracy
    assert read_stored(shipped_copy, 1000, 0) is None and read_stored(shipped_copy, 2000, 1) is None
    record = json.loads(path.read_text())
    for damage in ({"weights_sha256": "0" * 64}, {"definition": "older"}, {"accuracy": {"shift_x": [2.0]}}):
        path.write_text(json.dumps({**record, **damage}))
        assert read_stored(shipped_copy, 2000, 0) is None
    path.write_text(json.dumps(record).replace("0.5", "NaN", 1))
    assert read_stored(shipped_copy, 2000, 0) is None
    path.write_bytes(b"\xff not json")
    assert read_stored(shipped_copy, 2000, 0) is None


@pytest.mark.slow
def test_sweep_runs_reads_stored_results_instead_of_loading_the_model(shipped_copy):
    accuracy = {p.name: [0.25] * len(p.levels) for p in PERTURBATIONS}
    write_stored(shipped_copy, 40, 0, accuracy)

    def must_not_load(run):
        raise AssertionError(f"{run.path} was loaded although its sweep is stored")

    images, labels = torch.zeros(100, 28, 28, dtype=torch.uint8), torch.zeros(100, dtype=torch.long)
    result = sweep_runs({"cnn": shipped_copy}, images, labels, count=40, load=must_not_load)
    assert result.images == 40 and result.result("rotation").accuracy == {"cnn": [0.25] * 9}
    fresh = sweep_runs({"cnn": shipped_copy}, images, labels, count=40, use_stored=False)
    assert fresh.result("rotation").accuracy["cnn"] != [0.25] * 9


def test_the_shipped_runs_stored_sweeps_reproduce(real_mnist):
    """The stored default sweep of each shipped run is what a fresh sweep measures (one perturbation checked)."""
    chosen = sample_indices(2000, seed=0)
    images, labels = real_mnist.test_images[chosen], real_mnist.test_labels[chosen]
    for key in ("mlp", "cnn", "lenet5"):
        run = read_run(PROJECT_ROOT / "checkpoints" / key)
        stored = read_stored(run, 2000, 0)
        assert stored is not None, f"checkpoints/{key}/{STORED_FILE} is missing or stale: run make checkpoints"
        fresh = sweep({key: load_model(run)}, images, labels, perturbations=[get_perturbation("rotation")])
        assert fresh["rotation"][key] == pytest.approx(stored["rotation"], abs=1e-6)
