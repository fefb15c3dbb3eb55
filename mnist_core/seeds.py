"""Architecture or luck? Runs of one recipe that differ only in their seed, compared as groups.

One run of each model cannot separate the architecture from the luck of its initialisation and
data order: four seeds of the same CNN recipe span more than the gap between two models. A seed
group is the runs of one model and recipe; two groups are compared with Welch's t-test on their
per-seed test accuracies (``scipy.stats.ttest_ind(b, a, equal_var=False)`` and its 95 %
confidence interval), Holm's correction over all the pairs reported, and a winner is named only
below 0.05 after it. A group's seeds averaged (the mean of their softmax probabilities) are its
ensemble: the cheapest accuracy there is.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .comparison import SIGNIFICANCE_LEVEL, holm
from .models import MODELS
from .recipes import TrainConfig
from .runs import RunInfo

B_BETTER, A_BETTER, WITHIN_NOISE = "b better", "a better", "within seed noise"
# No test at all: a group of one seed, or every seed of both groups scoring the same (Welch's t is then
# infinite or undefined: a p of 0 would claim a winner that one more seed could overturn).
ONE_SEED, NO_SPREAD = "one seed: cannot tell", "no spread: cannot test"
UNTESTED = (ONE_SEED, NO_SPREAD)


@dataclass(frozen=True)
class SeedGroup:
    """The runs of one model and settings, one per seed, in seed order."""

    model: str
    recipe: str
    runs: tuple[RunInfo, ...]
    ensemble_accuracy: float | None = None  # the seeds' mean softmax on the test images; None until measured

    @property
    def settings(self) -> str:
        """What every run of the group shares: its training settings but the seed (:func:`settings_key`)."""
        return settings_key(self.runs[0])

    def holds(self, run: RunInfo) -> bool:
        """Whether ``run`` is one of this group's seeds (same model and settings)."""
        return run.model_key == self.model and settings_key(run) == self.settings

    @property
    def name(self) -> str:
        return MODELS[self.model].name

    @property
    def seeds(self) -> list[int]:
        return [run_seed(run) for run in self.runs]

    @property
    def accuracies(self) -> list[float]:
        return [run.accuracy for run in self.runs]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def sd(self) -> float | None:
        """The sample standard deviation (n − 1); None for a single run, which has no spread to show."""
        return float(np.std(self.accuracies, ddof=1)) if len(self.runs) > 1 else None

    def to_dict(self) -> dict:
        return {"model": self.model, "name": self.name, "seeds": self.seeds, "accuracies": self.accuracies,
                "mean": self.mean, "sd": self.sd, "ensemble_accuracy": self.ensemble_accuracy}


@dataclass(frozen=True)
class GroupComparison:
    """Group ``b`` against group ``a``: Welch's t-test on the per-seed accuracies."""

    a: SeedGroup
    b: SeedGroup
    mean_difference: float  # b − a, as a fraction of 1
    ci95: tuple[float, float] | None  # None when untested: a group has a single run, or neither has spread
    p: float | None
    p_holm: float | None  # Holm's correction over every pair reported together

    @property
    def verdict(self) -> str:
        if len(self.a.runs) < 2 or len(self.b.runs) < 2:
            return ONE_SEED
        if self.p is None:
            return NO_SPREAD
        if self.p_holm is None or self.p_holm >= SIGNIFICANCE_LEVEL:
            return WITHIN_NOISE
        return B_BETTER if self.mean_difference > 0 else A_BETTER

    @property
    def winner(self) -> SeedGroup | None:
        """The better group, when the test names one."""
        return {B_BETTER: self.b, A_BETTER: self.a}.get(self.verdict)

    def to_dict(self) -> dict:
        return {"a": self.a.model, "b": self.b.model, "mean_difference": self.mean_difference,
                "ci95": list(self.ci95) if self.ci95 is not None else None, "p": self.p, "p_holm": self.p_holm,
                "verdict": self.verdict}

    def sentence(self) -> str:
        """E.g. "LeNet-5 vs CNN: +0.07 points (95 % CI −0.03 to +0.17) across 5 seeds each — within seed noise"."""
        seeds = (f"{len(self.a.runs)} seeds each" if len(self.a.runs) == len(self.b.runs)
                 else f"{len(self.b.runs)} and {len(self.a.runs)} seeds")
        head = f"{self.b.name} vs {self.a.name}: {_points(self.mean_difference)} points"
        if self.verdict == NO_SPREAD:
            return f"{head} across {seeds}, every seed of each scoring the same — {NO_SPREAD}"
        if self.verdict == ONE_SEED:
            single = [group.name for group in (self.b, self.a) if len(group.runs) < 2]
            which = "each" if len(single) == 2 else single[0]
            return (f"{head} from one run of {which}: a single run cannot separate the architecture from the luck "
                    f"of its seed (a verdict needs at least 2 seeds of each) — {ONE_SEED}")
        low, high = self.ci95
        verdict = {B_BETTER: f"{self.b.name} is better", A_BETTER: f"{self.a.name} is better",
                   WITHIN_NOISE: "within seed noise"}[self.verdict]
        return f"{head} (95 % CI {_points(low)} to {_points(high)}) across {seeds} — {verdict}"


def seed_ranking_sentence(groups: Sequence[SeedGroup], pairs: Sequence[GroupComparison]) -> str:
    """The ranking in words, from the seed groups and their tests, e.g. "LeNet-5 and CNN are level within
    seed noise; both beat MLP (5 seeds each; …)". One run each says that it cannot rank architectures."""
    verdict, basis = seed_ranking(groups, pairs)
    return f"{verdict} ({basis})." if basis else verdict


def seed_ranking(groups: Sequence[SeedGroup], pairs: Sequence[GroupComparison]) -> tuple[str, str]:
    """The ranking as (the verdict, what it rests on), e.g. ("LeNet-5 and CNN are level within seed noise;
    both beat MLP", "5 seeds each; Welch's t-test …"); the basis is empty when there is no verdict."""
    if not groups:
        return "", ""
    if all(len(group.runs) < 2 for group in groups):
        return ("Each model here is one training run: a single run cannot separate the architecture from the "
                "luck of its seed. Train seed groups to rank them: python -m mnist_core train --seeds 5.", "")

    def pair_of(one: SeedGroup, other: SeedGroup) -> GroupComparison | None:
        return next((pair for pair in pairs if {id(pair.a), id(pair.b)} == {id(one), id(other)}), None)

    def beats(winner: SeedGroup, loser: SeedGroup) -> bool:
        pair = pair_of(winner, loser)
        return pair is not None and pair.winner is winner

    ranked = sorted(groups, key=lambda group: group.mean, reverse=True)
    leaders = [ranked[0], *(group for group in ranked[1:] if not beats(ranked[0], group))]
    rest = [group for group in ranked if group not in leaders]
    names = [group.name for group in leaders]
    untested = [pair.verdict for group in leaders[1:]
                if (pair := pair_of(ranked[0], group)) is not None and pair.verdict in UNTESTED]
    if len(leaders) == 1:
        head = f"{names[0]} leads"
    elif untested:  # no test between the leaders: neither a winner nor "level"
        head = f"{_join(names)} cannot be ranked ({NO_SPREAD if NO_SPREAD in untested else ONE_SEED})"
    else:
        head = f"{_join(names)} are level within seed noise"
    if rest:
        who = names[0] if len(leaders) == 1 else "both" if len(leaders) == 2 else "all of them"
        if all(beats(leader, group) for leader in leaders for group in rest):
            head += f"; {who} beat{'s' if len(leaders) == 1 else ''} {_join([g.name for g in rest])}"
        else:
            head += f"; {names[0]} beats {_join([g.name for g in rest if beats(ranked[0], g)])}"
    return head, f"{_seed_counts(groups)}; Welch's t-test on the seeds' test accuracies, Holm-corrected"


def _seed_counts(groups: Sequence[SeedGroup]) -> str:
    counts = sorted({len(group.runs) for group in groups})
    return (f"{counts[0]} seed{'s' if counts[0] != 1 else ''} each" if len(counts) == 1
            else f"{counts[0]}–{counts[-1]} seeds")


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def run_seed(run: RunInfo) -> int:
    return int(run.config.get("seed", 0))


# Settings that do not change what a run learns, or that name the group itself.
_NOT_SETTINGS = ("seed", "group", "device")


def settings_key(run: RunInfo) -> str:
    """A run's training settings but its seed, as text: runs with the same key (and model) differ only
    in their seed. Settings a run file predates read as their defaults."""
    config = TrainConfig.from_dict(run.config).to_dict()
    return json.dumps({key: value for key, value in config.items() if key not in _NOT_SETTINGS}, sort_keys=True)


def group_runs(runs: Iterable[RunInfo]) -> list[SeedGroup]:
    """The runs as seed groups (model and settings but the seed), in the registry's order, then by
    recipe; each group's runs by seed.

    A run of the same recipe with other settings (fewer epochs, a subset) is another group: it would
    not be a seed of this one. Two runs of one group with the same seed are one seed twice: the
    newer is kept.
    """
    by_group: dict[tuple[str, str, str], dict[int, RunInfo]] = {}
    for run in sorted(runs, key=lambda run: (run.created, str(run.path))):
        by_group.setdefault((run.model_key, run.recipe, settings_key(run)), {})[run_seed(run)] = run
    order = list(MODELS)
    ordered = sorted(by_group.items(), key=lambda item: (order.index(item[0][0]), item[0][1],
                                                         -len(item[1])))  # of one recipe, the largest first
    return [SeedGroup(model, recipe, tuple(seeded[seed] for seed in sorted(seeded)))
            for (model, recipe, _), seeded in ordered]


def compare_groups(groups: Sequence[SeedGroup]) -> list[GroupComparison]:
    """Every pair of groups of two models and the same recipe, in the registry's order, with Holm's
    correction over all: architectures compared (two groups of one model differ in settings, not in
    architecture, and are not paired)."""
    from scipy import stats

    pairs, raw = [], []
    for a, b in itertools.combinations(groups, 2):
        if a.recipe != b.recipe or a.model == b.model:
            continue
        difference = b.mean - a.mean
        if len(a.runs) < 2 or len(b.runs) < 2:
            pairs.append((a, b, difference, None, None))
            continue
        with warnings.catch_warnings():  # seeds that all scored the same: SciPy warns, and p is NaN (below)
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ttest_ind(b.accuracies, a.accuracies, equal_var=False)
            interval = result.confidence_interval(0.95)
        p = float(result.pvalue)
        if not math.isfinite(p) or len(set(a.accuracies)) == len(set(b.accuracies)) == 1:
            # No spread in either group: nothing to test (p is NaN, or 0 when the means differ).
            pairs.append((a, b, difference, None, None))
            continue
        pairs.append((a, b, difference, (float(interval.low), float(interval.high)), p))
        raw.append(p)
    adjusted = iter(holm(raw))
    return [GroupComparison(a, b, difference, ci, p, next(adjusted) if p is not None else None)
            for a, b, difference, ci, p in pairs]


def with_ensembles(groups: Sequence[SeedGroup], probabilities: Callable[[RunInfo], np.ndarray],
                   labels: np.ndarray) -> list[SeedGroup]:
    """Each group with its ensemble's accuracy: the mean of its runs' ``probabilities(run)`` ``(N, 10)``
    on the images ``labels`` belong to, read by the largest."""
    measured = []
    for group in groups:
        mean = np.mean([probabilities(run) for run in group.runs], axis=0)
        accuracy = float((mean.argmax(axis=1) == np.asarray(labels)).mean())
        measured.append(SeedGroup(group.model, group.recipe, group.runs, accuracy))
    return measured


def _points(fraction: float) -> str:
    return f"{100 * fraction:+.2f}".replace("-", "−")
