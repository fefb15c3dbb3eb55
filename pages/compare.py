"""Compare: training curves, confusion matrices, per-class scores and the mistakes behind them."""

import numpy as np
import pandas as pd
import streamlit as st

from mnist_core.charts import METRIC_LABELS, Curve, confusion_heatmap, history_chart
from mnist_core.evaluation import per_class_metrics
from mnist_core.runs import RunError, shipped_runs
from pages.shared.frame import ensure_frame
from pages.shared.images import upscale
from pages.shared.loading import mnist_or_none, report_run_error, test_predictions
from pages.shared.markdown import literal
from pages.shared.run_choice import all_runs, checkpoints_folder, path_key, run_label, short_label

GALLERY_SIZE = 30

ensure_frame()
st.title("Compare runs")

runs, damaged = all_runs()
if not runs:
    st.info("No runs to compare yet. Train some on the **Train** page.")
    st.stop()
by_path = {str(run.path): run for run in runs}
default = [str(run.path) for run in shipped_runs(runs, checkpoints_folder()).values()] or list(by_path)[:3]
chosen_paths = st.multiselect("Runs", list(by_path), default=default, format_func=lambda p: run_label(by_path[p]),
                              key="compare.runs")
if not chosen_paths:
    st.info("Choose one or more runs above.")
    st.stop()
chosen = [by_path[path] for path in chosen_paths]
labels = {str(run.path): short_label(run) for run in chosen}

# --- Curves -----------------------------------------------------------------------------------
st.subheader("Training curves")
metric = st.segmented_control("Metric", list(METRIC_LABELS), default="test_accuracy",
                              format_func=METRIC_LABELS.get, key="compare.metric") or "test_accuracy"
curves = [Curve(labels[str(run.path)], run.model_key, run.history) for run in chosen if run.history]
if curves:
    st.plotly_chart(history_chart(curves, metric), width="stretch", key="compare.curves")
else:
    st.caption("These runs have no per-epoch history.")

# --- Confusion matrices -----------------------------------------------------------------------
st.subheader("Confusion matrices")
normalise = st.toggle("Row-normalised (% of each true digit)", key="compare.normalise")
st.caption("Rows are the true digits, columns the predictions; off the diagonal are the mistakes. "
           "Click a cell to see those test images below.")
clicked: tuple[int, int] | None = None
per_row = 3
for start in range(0, len(chosen), per_row):
    for column, run in zip(st.columns(per_row), chosen[start : start + per_row]):
        with column:
            figure = confusion_heatmap(run.confusion, labels[str(run.path)], normalise=normalise,
                                       model_key=run.model_key)
            figure.update_layout(height=430, margin={"l": 50, "r": 10, "t": 50, "b": 40})
            # Keyed by the run's full path: a user run may share its folder name with a shipped one.
            event = st.plotly_chart(figure, width="stretch", on_select="rerun", selection_mode="points",
                                    key=f"compare.confusion.{path_key(run.path)}")
            points = (event or {}).get("selection", {}).get("points", []) if event else []
            if points:
                clicked = (int(points[0]["y"]), int(points[0]["x"]))

# --- Per-class scores -------------------------------------------------------------------------
st.subheader("Per-class precision, recall and F1")
score = st.segmented_control("Score", ["f1", "precision", "recall"], default="f1",
                             format_func=str.capitalize, key="compare.score") or "f1"
scores = pd.DataFrame(
    {labels[str(run.path)]: 100 * per_class_metrics(run.confusion)[score] for run in chosen},
    index=pd.Index(range(10), name="digit"),
)
st.dataframe(scores, width="stretch",
             column_config={name: st.column_config.NumberColumn(format="%.2f") for name in scores.columns})
st.caption(f"{score.capitalize()} in percent for each digit, computed from each run's confusion matrix.")

# --- Mistakes ---------------------------------------------------------------------------------
st.subheader("Mistakes")
# A chart keeps its selection across reruns: apply a click once, so the boxes below stay usable.
if clicked is not None and clicked != st.session_state.get("compare.last_click"):
    st.session_state["compare.true"], st.session_state["compare.predicted"] = clicked
st.session_state["compare.last_click"] = clicked
st.session_state.setdefault("compare.true", 4)  # a classic confusion to start with
st.session_state.setdefault("compare.predicted", 9)
true_column, predicted_column = st.columns(2)
true_digit = true_column.selectbox("True digit", range(10), key="compare.true")
predicted_digit = predicted_column.selectbox("Predicted as", range(10), key="compare.predicted")

data, data_message = mnist_or_none()
if data is None:
    st.info(f"Showing the mistaken images needs the data set. {data_message}")
    st.stop()
if true_digit == predicted_digit:
    st.caption("Choose two different digits to see the mistakes between them.")
    st.stop()

try:
    predictions = {str(run.path): test_predictions(str(run.path), run.weights_sha256, str(data.root))[0]
                   for run in chosen}
except RunError as error:
    report_run_error(error)
    st.stop()
truth = data.test_labels.numpy()
mistaken = np.zeros(len(truth), dtype=bool)
for predicted in predictions.values():
    mistaken |= (truth == true_digit) & (predicted == predicted_digit)
indices = np.flatnonzero(mistaken)
counts = ", ".join(
    f"{literal(labels[path])} {int(((truth == true_digit) & (p == predicted_digit)).sum())}"
    for path, p in predictions.items()
)
if len(indices) == 0:
    st.success(f"No chosen run mistakes a {true_digit} for a {predicted_digit}.")
    st.stop()
st.markdown(f"**{len(indices)}** test images of a **{true_digit}** were predicted as **{predicted_digit}** by at "
            f"least one chosen run ({counts}). Each image shows every run's answer"
            f"{'' if len(indices) <= GALLERY_SIZE else f'; the first {GALLERY_SIZE} are shown'}.")
columns = st.columns(6)
for slot, index in enumerate(indices[:GALLERY_SIZE]):
    answers = " · ".join(
        f"{literal(labels[path].split(' · ')[0])} {'✗' if p[index] != true_digit else '✓'}{p[index]}"
        for path, p in predictions.items()
    )
    with columns[slot % len(columns)]:
        st.image(upscale(data.test_images[index].numpy(), 4), width="stretch")
        st.caption(f"#{index}: {answers}")

if damaged:
    st.caption(f"{len(damaged)} damaged run(s) are not listed; see the sidebar.")
