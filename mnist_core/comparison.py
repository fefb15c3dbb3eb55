"""Is the difference between two runs real? Paired counts, McNemar's test, confidence intervals.

Two runs evaluated on the same test images are paired: on each image both are right, only
one is, or both are wrong. Only the images where exactly one is right say anything about
which is better; McNemar's exact test asks whether they split more unevenly than a fair
coin would (a two-sided binomial test on the discordant pairs). Each accuracy gets a 95 %
Wilson interval. ``scipy.stats`` does the statistics; it is imported on first use (it takes
over a second to import, and the app's first page should not wait for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SIGNIFICANCE_LEVEL = 0.05


@dataclass(frozen=True)
class PairedComparison:
    """Two runs' answers on the same labelled images."""

    both_right: int
    only_a_right: int
    only_b_right: int
    both_wrong: int
    mcnemar_p: float  # exact two-sided McNemar test; 1.0 when the runs never disagree on correctness

    @property
    def images(self) -> int:
        return self.both_right + self.only_a_right + self.only_b_right + self.both_wrong

    @property
    def a_errors(self) -> int:
        return self.only_b_right + self.both_wrong

    @property
    def b_errors(self) -> int:
        return self.only_a_right + self.both_wrong

    @property
    def significant(self) -> bool:
        return self.mcnemar_p < SIGNIFICANCE_LEVEL


def compare_predictions(truth: np.ndarray, predictions_a: np.ndarray, predictions_b: np.ndarray) -> PairedComparison:
    """Paired counts and McNemar's exact test for two runs' predictions of the same images."""
    truth, predictions_a, predictions_b = (np.asarray(array) for array in (truth, predictions_a, predictions_b))
    if not truth.shape == predictions_a.shape == predictions_b.shape:
        raise ValueError("Both runs must be evaluated on the same images.")
    a_right, b_right = predictions_a == truth, predictions_b == truth
    only_a, only_b = int((a_right & ~b_right).sum()), int((b_right & ~a_right).sum())
    return PairedComparison(
        both_right=int((a_right & b_right).sum()),
        only_a_right=only_a,
        only_b_right=only_b,
        both_wrong=int((~a_right & ~b_right).sum()),
        mcnemar_p=mcnemar_exact_p(only_a, only_b),
    )


def mcnemar_exact_p(only_a_right: int, only_b_right: int) -> float:
    """Two-sided exact McNemar p-value: is a split of the discordant pairs this uneven chance?"""
    discordant = only_a_right + only_b_right
    if discordant == 0:
        return 1.0  # they are right on exactly the same images: no evidence either way
    from scipy import stats

    return float(stats.binomtest(only_a_right, discordant, 0.5).pvalue)


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for an accuracy of ``correct`` out of ``total`` (fractions)."""
    if total <= 0:
        raise ValueError("An accuracy needs at least one image.")
    from scipy import stats

    interval = stats.binomtest(int(correct), int(total)).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def difference_matrix(confusion_a: np.ndarray, confusion_b: np.ndarray) -> np.ndarray:
    """B − A per cell: on the diagonal, digits B gets right more often; off it, mistakes B adds (+)
    or removes (−). Each row sums to zero when both saw the same images."""
    return np.asarray(confusion_b, dtype=np.int64) - np.asarray(confusion_a, dtype=np.int64)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the smallest times m, the next times
    m − 1, and so on, never below the one before and at most 1."""
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def holm_for_pair(truth: np.ndarray, predictions: Sequence[np.ndarray], a: int, b: int) -> tuple[float, int]:
    """Runs ``a`` and ``b``'s McNemar p after Holm's correction over every pair of ``predictions``
    (the runs chosen together), and how many pairs that is."""
    pairs = [(i, j) for i in range(len(predictions)) for j in range(i + 1, len(predictions))]
    adjusted = holm([compare_predictions(truth, predictions[i], predictions[j]).mcnemar_p for i, j in pairs])
    return adjusted[pairs.index((min(a, b), max(a, b)))], len(pairs)


def significance_sentence(name_a: str, name_b: str, comparison: PairedComparison,
                          adjusted: tuple[float, int] | None = None, items: str = "test images") -> str:
    """One plain sentence: who makes fewer mistakes, by how many, and whether that is more than chance.

    ``adjusted``: (Holm-adjusted p, number of pairs) when this pair is one of several tested
    together (three runs make three pairs); the verdict then rests on the adjusted p. ``items``: what the
    test set holds, in the plural ("drawings" for the class's hard set)."""
    fewer = comparison.a_errors - comparison.b_errors
    if fewer == 0:
        lead = f"{name_a} and {name_b} make the same number of mistakes ({comparison.a_errors})"
    else:
        better, worse = (name_b, name_a) if fewer > 0 else (name_a, name_b)
        lead = f"{better} makes {abs(fewer)} fewer mistake{'s' if abs(fewer) != 1 else ''} than {worse}"
    p = comparison.mcnemar_p if adjusted is None else adjusted[0]
    verdict = "a significant difference" if p < SIGNIFICANCE_LEVEL else "not a significant difference"
    tested = (f"McNemar p = {format_p(comparison.mcnemar_p)}" if adjusted is None else
              f"McNemar p = {format_p(comparison.mcnemar_p)}, {format_p(adjusted[0])} after Holm's correction for "
              f"the {adjusted[1]} pairs of the chosen runs")
    return (f"{lead} on {comparison.images:,} {items}: {verdict} ({tested}; "
            f"they disagree on {comparison.only_a_right + comparison.only_b_right} of them).")


@dataclass(frozen=True)
class Standing:
    """One model's place in a ranking on the same test images."""

    name: str
    accuracy: float  # in percent
    errors: int
    parameters: int


def are_level(first: Standing, second: Standing) -> bool:
    """The same number of mistakes on the same test images: neither leads."""
    return first.errors == second.errors


def ranking_sentence(ranked: list[Standing]) -> str:
    """Who is most accurate, by how much, with how many parameters, and how well the weakest does.

    ``ranked``: at least two, most accurate first. Two with the same number of errors are "level"
    (the first named is then the smaller, as the Overview sorts them).
    """
    best, runner_up, weakest = ranked[0], ranked[1], ranked[-1]
    size = runner_up.parameters / best.parameters
    if are_level(best, runner_up):
        lead = (f"**{best.name}** and **{runner_up.name}** are level at **{best.accuracy:.2f}%**"
                + (f", {best.name} with {size:.0f}x fewer parameters" if size >= 2 else ""))
    else:
        size_note = (f", with {size:.0f}x fewer parameters" if size >= 2
                     else f", with {1 / size:.0f}x more parameters" if size <= 0.5 else "")
        lead = (f"**{best.name}** is the most accurate at **{best.accuracy:.2f}%**, "
                f"{best.accuracy - runner_up.accuracy:.2f} points ahead of {runner_up.name}{size_note}")
    if weakest is runner_up:
        return lead + "."
    return (f"{lead}. The weakest, {weakest.name}, still gets {weakest.accuracy:.2f}% right: on MNIST the "
            "differences live in the last percent.")


def format_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.01 else f"{p:.2f}"
