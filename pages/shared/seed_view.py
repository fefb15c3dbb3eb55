"""Architecture or luck? The seed groups of the runs in use, on the Overview and on Compare."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.charts import seed_strip_chart
from mnist_core.runs import RunInfo
from mnist_core.seeds import SeedGroup, compare_groups, group_runs, seed_ranking_sentence
from pages.shared.presenter import for_the_room, show_table
from pages.shared.run_choice import all_runs


def groups_of(runs: list[RunInfo]) -> list[SeedGroup]:
    """The seed group of each of ``runs`` (every run on disk of its model and settings but the seed),
    each group once, in the registry's order."""
    groups = group_runs(all_runs()[0])
    return [group for group in groups if any(group.holds(run) for run in runs)]


def show_seed_groups(runs: list[RunInfo], key: str, chart: bool = True, table: bool = False) -> None:
    """The ranking in words; the strip plot (``chart``) and the pairs' tests (``table``) once a group has seeds."""
    groups = groups_of(runs)
    pairs = compare_groups(groups)
    st.markdown(seed_ranking_sentence(groups, pairs))
    if not any(len(group.runs) > 1 for group in groups):
        return
    if chart:
        st.plotly_chart(for_the_room(seed_strip_chart(groups)), width="stretch", config={"displayModeBar": False},
                        key=f"{key}.seeds")
        st.caption("Each dot is one seed of the same recipe; the bar is their mean ± sd. The runs every page uses "
                   "are seed 0. `python -m mnist_core seeds` adds each group's ensemble (its seeds averaged).")
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
