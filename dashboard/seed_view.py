"""Architecture or luck? The seed groups of the runs in use, on the Overview and on Compare."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard.loading import ensemble_accuracy, members_of, mnist_or_none, report_run_error
from dashboard.presenter import for_the_room, show_table
from dashboard.run_choice import all_runs
from mnist_core.charts import seed_strip_chart
from mnist_core.runs import RunError, RunInfo
from mnist_core.seeds import SeedGroup, compare_groups, group_runs, seed_ranking, seed_ranking_sentence

# What the strip plot says, for a room that has not met a t-test.
PLAIN_SENTENCE = ("Each dot is one training run from a different random start; where dots overlap, the winner could "
                  "be luck.")


def groups_of(runs: list[RunInfo]) -> list[SeedGroup]:
    """The seed group of each of ``runs`` (every run on disk of its model and settings but the seed),
    each group once, in the registry's order."""
    groups = group_runs(all_runs()[0])
    return [group for group in groups if any(group.holds(run) for run in runs)]


def seed_verdict(runs: list[RunInfo]) -> tuple[str, str]:
    """The ranking of ``runs``' models from their seed groups, and what it rests on (how many seeds, which
    test); the second part is empty when there is no verdict."""
    groups = groups_of(runs)
    return seed_ranking(groups, compare_groups(groups))


def with_measured_ensembles(groups: list[SeedGroup]) -> list[SeedGroup]:
    """``groups`` with each ensemble's test accuracy (seconds for a fresh server, then cached); unchanged
    without the data set."""
    data = mnist_or_none()[0]
    if data is None:
        return groups
    return [replace(group, ensemble_accuracy=ensemble_accuracy(members_of(group.runs[0], group), str(data.root)))
            if len(group.runs) > 1 else group for group in groups]


def show_seed_groups(runs: list[RunInfo], key: str, chart: bool = True, table: bool = False,
                     sentence: bool = True) -> None:
    """The ranking in words (``sentence``); the strip plot with each ensemble (``chart``) and the pairs' tests
    (``table``) once a group has seeds."""
    groups = groups_of(runs)
    pairs = compare_groups(groups)
    if sentence:
        st.markdown(seed_ranking_sentence(groups, pairs))
    if not any(len(group.runs) > 1 for group in groups):
        return
    if chart:
        st.markdown(PLAIN_SENTENCE)  # under the section's title, before the chart it explains
        slot = st.empty()  # the seeds at once; the ensembles once measured (a few seconds on a fresh server)
        options = {"width": "stretch", "config": {"displayModeBar": False}}
        slot.plotly_chart(for_the_room(seed_strip_chart(groups)), **options)  # keyed once final: a key is once a run
        caption = st.empty()
        text = ("● one run, a seed of the same recipe (the runs every page uses are seed 0) · ┃ the runs' mean "
                "± sd")
        caption.caption(text + ".")
        try:
            measured = with_measured_ensembles(groups)
        except RunError as error:
            report_run_error(error)
            measured = groups
        slot.plotly_chart(for_the_room(seed_strip_chart(measured)), **options, key=f"{key}.seeds")
        ensembles = [group for group in measured if group.ensemble_accuracy is not None]
        if ensembles:
            caption.caption(text + " · ◆ their ensemble (the seeds' probabilities averaged): "
                            + "; ".join(f"{group.name} {100 * group.ensemble_accuracy:.2f}%" for group in ensembles)
                            + ". Draw answers with an ensemble when you choose it under \"Models in use\".")
    if table:
        rows = [{"Pair": f"{pair.b.name} vs {pair.a.name}",
                 "Difference (points)": round(100 * pair.mean_difference, 2),
                 "95% interval (points)": ("—" if pair.ci95 is None else
                                           f"{100 * pair.ci95[0]:+.2f} to {100 * pair.ci95[1]:+.2f}"),
                 "Holm p": "—" if pair.p_holm is None else f"{pair.p_holm:.3f}",
                 "Verdict": {"b better": f"{pair.b.name} better", "a better": f"{pair.a.name} better"}.get(
                     pair.verdict, pair.verdict),
                 "Seeds": f"{len(pair.b.runs)} and {len(pair.a.runs)}"} for pair in pairs]
        show_table(pd.DataFrame(rows))
        st.caption("Welch's t-test on the seeds' test accuracies, Holm-corrected over the pairs shown: a "
                   "difference between architectures, not between two trained networks (that is McNemar's "
                   "test below).")
