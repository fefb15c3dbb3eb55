"""Overview: the models at a glance, who wins and by how much, and a look at MNIST."""

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.access import may_train
from dashboard.images import upscale
from dashboard.lesson import lesson_path
from dashboard.loading import mnist_or_none, prediction_latency_ms, report_run_error, test_predictions
from dashboard.navigation import page_link
from dashboard.presenter import show_table
from dashboard.run_choice import require_runs
from dashboard.seed_view import seed_verdict, show_seed_groups
from mnist_core.comparison import (
    Standing,
    accuracy_interval,
    are_level,
    compare_predictions,
    ranking_sentence,
    significance_sentence,
)
from mnist_core.models import MODELS
from mnist_core.runs import RunError

st.title("MNIST model comparison")
st.markdown(
    "Three classic handwritten-digit classifiers, trained on MNIST's training images (the `best` recipe holds "
    "5,000 of them out to choose its settings on) and measured on the 10,000 **test** images they never saw."
)
with st.container(horizontal=True, gap="medium"):  # where to go next, as links (the sidebar may be hidden)
    page_link("draw", "Draw your own digits")
    page_link("compare", "Compare their training")
    if may_train():  # a participant's link would lead to a page they can only watch
        page_link("train", "Train new runs")
lesson_path()


runs = require_runs()
rows = []
for key, run in runs.items():
    rows.append(
        {
            "Model": run.name,
            "Parameters": run.parameters,
            "Test accuracy (%)": 100 * run.accuracy,
            "95% interval (%)": None,  # filled in below, once the table is on screen (SciPy loads slowly)
            "Test errors": int(round((1 - run.accuracy) * run.test_images)),
            # Before the columns a narrow screen scrolls to: what one answer costs is part of the comparison.
            "Latency, 1 image (ms)": None,  # measured below, once the table is on screen
            # On the training images held out to choose settings on; none for the tutorial recipe.
            "Validation accuracy (%)": None if run.validation_accuracy is None else 100 * run.validation_accuracy,
            "Training time (s)": run.training_seconds,
            "Epochs": len(run.history),
            "Checkpoint (MB)": run.weights_bytes / 1e6,
            "Recipe": run.recipe,
            "Description": MODELS[key].description,
        }
    )
# Most accurate first; of two level on accuracy, the smaller model.
table = pd.DataFrame(rows).sort_values(["Test accuracy (%)", "Parameters"], ascending=[False, True])

ranked = [Standing(row["Model"], row["Test accuracy (%)"], row["Test errors"], row["Parameters"])
          for row in table.to_dict("records")]
# The verdict on the architectures rests on their seed groups; the table's runs (seed 0 of each)
# are one draw of each, which a sentence under the table ranks as runs.
verdict, basis = seed_verdict(list(runs.values())) if len(ranked) > 1 else ("", "")
if verdict:
    st.markdown(f"**{verdict}** ({basis})." if basis else verdict)
runs_slot = st.empty()
if len(ranked) > 1:
    run_verdict = "The runs in the table, one of each: " + ranking_sentence(ranked)
    level = are_level(ranked[0], ranked[1])
    runs_slot.markdown(run_verdict + (" Whether they differ more than by chance needs the test images." if level
                                      else " Whether the lead is more than chance needs the test images."))

COLUMNS = {
    "Parameters": st.column_config.NumberColumn(format="localized"),
    # A number, not a progress bar: a bar from 95 % made tenths of a point look like factors.
    "Test accuracy (%)": st.column_config.NumberColumn(format="%.2f"),
    "Validation accuracy (%)": st.column_config.NumberColumn(format="%.2f"),
    "Training time (s)": st.column_config.NumberColumn(format="%.0f"),
    "Checkpoint (MB)": st.column_config.NumberColumn(format="%.2f"),
    "Latency, 1 image (ms)": st.column_config.NumberColumn(format="%.2f"),
    "Description": st.column_config.TextColumn(width="large"),
}
# What the back of the room reads; the rest stays in the interactive table.
PRESENTED = ["Model", "Parameters", "Test accuracy (%)", "95% interval (%)", "Test errors", "Training time (s)",
             "Latency, 1 image (ms)"]
table_slot = st.empty()
show_table(table, COLUMNS, target=table_slot, presented=PRESENTED)
st.caption("Accuracy, errors and training time are read from each run's file; latency is measured here, "
           "on this machine, for one image on one CPU thread, as the Draw page runs it.")

# The stored numbers are on screen; measuring latency loads the models (and, on a fresh
# server, PyTorch: seconds), so it fills its column in afterwards.
data, data_message = mnist_or_none()
try:
    latency = {run.name: prediction_latency_ms(str(run.path), run.weights_sha256) for run in runs.values()}
    table["Latency, 1 image (ms)"] = table["Model"].map(latency)
    table["95% interval (%)"] = table["Model"].map({run.name: "–".join(f"{100 * bound:.2f}" for bound in (
        accuracy_interval(round(run.accuracy * run.test_images), run.test_images))) for run in runs.values()})
    show_table(table, COLUMNS, target=table_slot, presented=PRESENTED)
    if len(ranked) > 1 and data is not None:
        # The same test images, paired: is the leader's margin more than chance?
        by_name = {run.name: run for run in runs.values()}
        predictions = [test_predictions(str(by_name[standing.name].path), by_name[standing.name].weights_sha256,
                                        str(data.root))[0] for standing in (ranked[1], ranked[0])]
        paired = compare_predictions(data.test_labels.numpy(), *predictions)
        runs_slot.markdown(run_verdict + " " + significance_sentence(ranked[1].name, ranked[0].name, paired))
except RunError as error:  # the weights turned out damaged: the stored numbers stay on screen
    report_run_error(error)

# One run of each model cannot separate the architecture from the luck of its seed: the groups can.
st.header("Architecture or luck?")
show_seed_groups(list(runs.values()), key="overview", sentence=False)

st.header("MNIST test digits")
if data is None:
    st.info(f"The gallery needs the data set. {data_message}")
else:
    labels = data.test_labels.numpy()
    columns = st.columns(10)
    for digit, column in enumerate(columns):
        examples = np.flatnonzero(labels == digit)[:3]
        with column:
            for index in examples:
                st.image(upscale(data.test_images[index].numpy(), 3), caption=f"#{index}", width="stretch",
                         alt=f"a handwritten {digit}, test image #{index}")
