"""Overview: the three models at a glance, who wins and by how much, and a look at MNIST."""

import numpy as np
import pandas as pd
import streamlit as st

from mnist_core.comparison import accuracy_interval, compare_predictions, significance_sentence
from mnist_core.models import MODELS
from mnist_core.runs import RunError
from pages.shared.frame import ensure_frame
from pages.shared.images import upscale
from pages.shared.loading import mnist_or_none, prediction_latency_ms, report_run_error, test_predictions
from pages.shared.presenter import show_table
from pages.shared.run_choice import require_runs

ensure_frame()
st.title("MNIST model comparison")
st.markdown(
    "Three classic handwritten-digit classifiers, trained on MNIST's training images (the `best` recipe holds "
    "5,000 of them out to choose its settings on) and measured on the 10,000 **test** images they never saw. "
    "Compare their training on **Compare**, draw your own digits on **Draw**, or train new runs on **Train**."
)


runs = require_runs()
rows = []
for key, run in runs.items():
    rows.append(
        {
            "Model": run.name,
            "Parameters": run.parameters,
            "Test accuracy (%)": 100 * run.accuracy,
            "95% interval (%)": None,  # filled in below, once the table is on screen (SciPy loads slowly)
            # On the training images held out to choose settings on; none for the tutorial recipe.
            "Validation accuracy (%)": None if run.validation_accuracy is None else 100 * run.validation_accuracy,
            "Test errors": int(round((1 - run.accuracy) * run.test_images)),
            "Training time (s)": run.training_seconds,
            "Epochs": len(run.history),
            "Checkpoint (MB)": run.weights_bytes / 1e6,
            "Latency, 1 image (ms)": None,  # measured below, once the table is on screen
            "Recipe": run.recipe,
            "Description": MODELS[key].description,
        }
    )
# Most accurate first; of two level on accuracy, the smaller model.
table = pd.DataFrame(rows).sort_values(["Test accuracy (%)", "Parameters"], ascending=[False, True])

ranked = table.to_dict("records")
best, runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
verdict_slot = st.empty()
if runner_up is not None:
    gap = best["Test accuracy (%)"] - runner_up["Test accuracy (%)"]
    size = runner_up["Parameters"] / best["Parameters"]
    size_note = (f", with {size:.0f}x fewer parameters" if size >= 2
                 else f", with {1 / size:.0f}x more parameters" if size <= 0.5 else "")
    level = best["Test errors"] == runner_up["Test errors"]
    if level:
        lead = (f"**{best['Model']}** and **{runner_up['Model']}** are level at **{best['Test accuracy (%)']:.2f}%**"
                + (f", {best['Model']} with {size:.0f}x fewer parameters" if size >= 2 else ""))
    else:
        lead = (f"**{best['Model']}** is the most accurate at **{best['Test accuracy (%)']:.2f}%**, "
                f"{gap:.2f} points ahead of {runner_up['Model']}{size_note}")
    weakest = ranked[-1]
    verdict = (lead + (f". The weakest, {weakest['Model']}, still gets {weakest['Test accuracy (%)']:.2f}% right: on "
                       "MNIST the differences live in the last percent." if weakest is not runner_up else "."))
    verdict_slot.markdown(verdict + (" Whether they differ more than by chance needs the test images." if level
                                     else " Whether the lead is more than chance needs the test images."))

COLUMNS = {
    "Parameters": st.column_config.NumberColumn(format="localized"),
    "Test accuracy (%)": st.column_config.ProgressColumn(format="%.2f", min_value=95, max_value=100),
    "Validation accuracy (%)": st.column_config.NumberColumn(format="%.2f"),
    "Training time (s)": st.column_config.NumberColumn(format="%.0f"),
    "Checkpoint (MB)": st.column_config.NumberColumn(format="%.2f"),
    "Latency, 1 image (ms)": st.column_config.NumberColumn(format="%.2f"),
    "Description": st.column_config.TextColumn(width="large"),
}
table_slot = st.empty()
show_table(table, COLUMNS, target=table_slot)
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
    show_table(table, COLUMNS, target=table_slot)
    if runner_up is not None and data is not None:
        # The same test images, paired: is the leader's margin more than chance?
        by_name = {run.name: run for run in runs.values()}
        predictions = [test_predictions(str(by_name[row["Model"]].path), by_name[row["Model"]].weights_sha256,
                                        str(data.root))[0] for row in (runner_up, best)]
        paired = compare_predictions(data.test_labels.numpy(), *predictions)
        verdict_slot.markdown(verdict + " " + significance_sentence(runner_up["Model"], best["Model"], paired))
except RunError as error:  # the weights turned out damaged: the stored numbers stay on screen
    report_run_error(error)

st.subheader("MNIST test digits")
if data is None:
    st.info(f"The gallery needs the data set. {data_message}")
else:
    labels = data.test_labels.numpy()
    columns = st.columns(10)
    for digit, column in enumerate(columns):
        examples = np.flatnonzero(labels == digit)[:3]
        with column:
            for index in examples:
                st.image(upscale(data.test_images[index].numpy(), 3), caption=f"#{index}", width="stretch")
