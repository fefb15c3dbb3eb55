"""Compare: is the difference real, where do runs differ, and their curves, matrices and mistakes."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.accessibility import matrix_table
from dashboard.difference_view import show_differences
from dashboard.gallery import Answers, show_gallery
from dashboard.hard_set import CAVEAT, HARD_SET, MNIST_TEST, choose_test_set, hard_set, predictions
from dashboard.loading import mnist_or_none, report_run_error, test_predictions
from dashboard.markdown import counted, literal
from dashboard.navigation import page_link
from dashboard.presenter import for_the_room, matrix_layout, presenting, show_table
from dashboard.run_choice import (
    all_runs,
    path_key,
    run_label,
    seed_group_of,
    selected_runs,
    short_label,
)
from dashboard.screen import window_size
from dashboard.seed_view import show_seed_groups
from dashboard.workspace import workspace
from mnist_core.charts import METRIC_LABELS, Curve, confusion_heatmap, history_chart, per_class_chart
from mnist_core.evaluation import per_class_metrics
from mnist_core.runs import RunError

RUNS_KEY = "compare.runs"


def link_path(path: str) -> str:
    """A run folder as the page's link names it: relative to the app's folder when inside it."""
    try:
        return Path(path).relative_to(workspace().root).as_posix()
    except ValueError:
        return path


st.title("Compare runs")
# In projector mode the matrices grow with a tall screen: the browser tells its size (a rerun, then each resize).
window = window_size("compare.window") if presenting() else None
window_height = window.height if window is not None else None

runs, damaged = all_runs()
if not runs:
    st.info("No runs to compare yet. Train some on the Train page.")
    page_link("train", "Train models")
    st.stop()
by_path = {str(run.path): run for run in runs}
# The link holds the runs as folder paths (relative to the app's folder when inside it), so that a
# lesson link names the runs themselves, not how they are labelled today.
in_link = {link_path(path): path for path in by_path}
if RUNS_KEY not in st.session_state:  # the first visit: the link's runs, else the runs in use (Draw)
    linked = [in_link[path] for path in st.query_params.get_all(RUNS_KEY) if path in in_link]
    st.session_state[RUNS_KEY] = linked or [str(run.path) for run in selected_runs().values()] or list(by_path)[:3]
else:  # the runs chosen before, less any deleted meanwhile
    st.session_state[RUNS_KEY] = [path for path in st.session_state[RUNS_KEY] if path in by_path]
chosen_paths = st.multiselect("Runs", list(by_path), format_func=lambda p: run_label(by_path[p]), key=RUNS_KEY)
st.query_params[RUNS_KEY] = [link_path(path) for path in chosen_paths]
if not chosen_paths:
    st.info("Choose one or more runs above.")
    st.stop()
chosen = [by_path[path] for path in chosen_paths]
labels = {str(run.path): short_label(run) for run in chosen}

# --- Across seeds: a difference between architectures (not between two trained networks) -------
st.header("Across seeds: architecture or luck?")
show_seed_groups(chosen, key="compare", chart=False, table=True)

# --- Is the difference real? Where do runs differ? (needs each run's answers on the chosen test set) --
data, data_message = mnist_or_none()
hard = hard_set()
if data is not None or len(hard):
    st.header("Is the difference real?")
test_set = choose_test_set(hard, len(data.test_labels) if data is not None else 10_000)
if hard.problem:
    st.caption(f"The class's hard set cannot be read: {literal(hard.problem)}")
answers: list[Answers] = []  # on the MNIST test images, which the mistakes below show too
if data is None:
    if test_set == MNIST_TEST:
        st.info(f"Testing whether differences are real, and the galleries, need the data set. {data_message}")
else:
    try:
        for run in chosen:
            predicted, confidence = test_predictions(str(run.path), run.weights_sha256, str(data.root))
            answers.append(Answers(labels[str(run.path)], run.model_key, predicted, confidence))
    except RunError as error:
        report_run_error(error)
        answers = []
    if answers and test_set == MNIST_TEST:
        show_differences(answers, data.test_labels.numpy(), data.test_images, window_height)
if test_set == HARD_SET:
    st.caption(f"{counted(len(hard), 'drawing')} from the game's rounds (#: a drawing's id on the Audience page). "
               f"{CAVEAT} Further down, the curves, matrices and mistakes stay on MNIST test.")
    drawing_ids, hard_images, hard_truth = hard.arrays()
    try:
        on_hard = [Answers(labels[str(run.path)], run.model_key, *predictions(hard, run)) for run in chosen]
    except RunError as error:
        report_run_error(error)
        on_hard = []
    if on_hard:
        show_differences(on_hard, hard_truth, hard_images, window_height, drawing_ids)

# --- Curves -----------------------------------------------------------------------------------
st.header("Training curves")
metric = st.segmented_control("Metric", list(METRIC_LABELS), default="test_accuracy", format_func=METRIC_LABELS.get,
                              key="compare.metric", bind="query-params") or "test_accuracy"
groups = {str(run.path): seed_group_of(run) for run in chosen}
seeded = any(len(group.runs) > 1 for group in groups.values())
banded = seeded and st.toggle("Seed groups as their mean and band", value=True, key="compare.seed_bands",
                              bind="query-params",
                              help="A run with other seeds of its settings draws as their mean, with a band from "
                                   "their lowest to their highest value; each seed's value is on hover. Off: the "
                                   "chosen runs alone.")
curves, drawn = [], set()
for run in chosen:
    group = groups[str(run.path)]
    if banded and len(group.runs) > 1:
        if group.settings + group.model in drawn:  # two chosen seeds of one group: one band
            continue
        drawn.add(group.settings + group.model)
        curves.append(Curve(labels[str(run.path)], run.model_key, run.history,
                            seeds=[(seed, member.history) for seed, member in zip(group.seeds, group.runs)]))
    elif run.history:
        curves.append(Curve(labels[str(run.path)], run.model_key, run.history))
if curves:
    # theme=None on this page's charts: the figures carry the dashboard's style themselves, and
    # Streamlit's chart theme, merged in the browser, cost 0.3-0.4 s of this page's drawing.
    st.plotly_chart(for_the_room(history_chart(curves, metric)), width="stretch", theme=None, key="compare.curves")
else:
    st.caption("These runs have no per-epoch history.")

# --- Confusion matrices -----------------------------------------------------------------------
st.header("Confusion matrices")
normalise = st.toggle("Row-normalised (% of each true digit)", key="compare.normalise", bind="query-params")
st.caption("Rows are the true digits, columns the predictions; off the diagonal are the mistakes. "
           "Click a cell to see those test images below.")
clicked: tuple[int, int] | None = None
per_row = 2  # three in a row leave cells too small for four-digit counts at 1280x720
for start in range(0, len(chosen), per_row):
    for column, run in zip(st.columns(per_row), chosen[start : start + per_row]):
        with column:
            height, counts_size = matrix_layout(window_height)
            figure = confusion_heatmap(run.confusion, labels[str(run.path)], normalise=normalise,
                                       model_key=run.model_key, counts_size=counts_size)
            figure.update_layout(height=height, margin={"l": 50, "r": 10, "t": 50, "b": 60})  # room for "predicted"
            # Keyed by the run's full path: a user run may share its folder name with a shipped one.
            event = st.plotly_chart(for_the_room(figure), width="stretch", theme=None, on_select="rerun",
                                    selection_mode="points", key=f"compare.confusion.{path_key(run.path)}")
            matrix_table(run.confusion, labels[str(run.path)], normalise)
            points = (event or {}).get("selection", {}).get("points", []) if event else []
            if points:
                clicked = (int(points[0]["y"]), int(points[0]["x"]))

# --- Per-class scores -------------------------------------------------------------------------
st.header("Per-class precision, recall and F1")
score = st.segmented_control("Score", ["recall", "precision", "f1"], default="recall",
                             format_func=lambda name: "F1" if name == "f1" else name.capitalize(),
                             key="compare.score", bind="query-params") or "recall"
per_class = {labels[str(run.path)]: (run.model_key, per_class_metrics(run.confusion)[score]) for run in chosen}
chart_column, table_column = st.columns([3, 2], gap="large")
chart_column.plotly_chart(for_the_room(per_class_chart(per_class, score.capitalize() if score != "f1" else "F1")),
                          width="stretch", theme=None, key="compare.per_class")
scores = pd.DataFrame({label: 100 * values for label, (_, values) in per_class.items()},
                      index=pd.Index(range(10), name="digit"))
show_table(scores, {name: st.column_config.NumberColumn(format="%.2f") for name in scores.columns},
           hide_index=False, target=table_column)
st.caption("In percent for each digit, computed from each run's confusion matrix.")

# --- Mistakes ---------------------------------------------------------------------------------
st.header("Mistakes")
# A chart keeps its selection across reruns: apply a click once, so the boxes below stay usable.
if clicked is not None and clicked != st.session_state.get("compare.last_click"):
    st.session_state["compare.true"], st.session_state["compare.predicted"] = clicked
st.session_state["compare.last_click"] = clicked
for key, start in (("compare.true", 4), ("compare.predicted", 9)):  # a classic confusion to start with...
    if key not in st.query_params:  # ...unless a lesson link names another
        st.session_state.setdefault(key, start)
true_column, predicted_column = st.columns(2)
true_digit = true_column.selectbox("True digit", range(10), key="compare.true", bind="query-params")
predicted_digit = predicted_column.selectbox("Predicted as", range(10), key="compare.predicted",
                                             bind="query-params")

if not answers:
    st.info(f"Showing the mistaken images needs the data set. {data_message}")
    st.stop()
if true_digit == predicted_digit:
    st.caption("Choose two different digits to see the mistakes between them.")
    st.stop()
truth = data.test_labels.numpy()
mistaken = np.zeros(len(truth), dtype=bool)
for run in answers:
    mistaken |= (truth == true_digit) & (run.predictions == predicted_digit)
indices = np.flatnonzero(mistaken)
if len(indices) == 0:
    st.success(f"No chosen run mistakes a {true_digit} for a {predicted_digit}.")
    st.stop()
st.markdown(f"**{len(indices)}** test images of a **{true_digit}** were predicted as **{predicted_digit}** by at "
            "least one chosen run. Each shows every run's answer and confidence.")
show_gallery(indices, data.test_images, truth, answers, limit=18)

if damaged:
    st.caption(f"{len(damaged)} damaged run(s) are not listed; see the sidebar.")
