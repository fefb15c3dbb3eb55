"""Compare, part one: is the difference between runs real, and where do two runs differ?

Needs every chosen run's answers on the test images (evaluated once per run checksum): MNIST's, or the class's
hard set (dashboard/hard_set.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.gallery import Answers, show_gallery
from dashboard.markdown import counted, literal
from dashboard.presenter import for_the_room, matrix_layout, show_table
from dashboard.run_choice import selected_runs
from dashboard.url import drop_unreadable_number
from dashboard.why import why_panel
from mnist_core.charts import difference_heatmap
from mnist_core.comparison import (
    accuracy_interval,
    compare_predictions,
    difference_matrix,
    holm_for_pair,
    significance_sentence,
)
from mnist_core.data import normalize
from mnist_core.evaluation import confusion_matrix
from mnist_core.label_issues import accuracy_without_doubtful_labels, label_issues

FILTERS = ("only one right", "A right, B wrong", "B right, A wrong", "all wrong")


def accuracy_table(answers: list[Answers], truth: np.ndarray, mnist_test: bool = True) -> None:
    """Each run's accuracy, interval and errors; on the MNIST test set also without the labels audits doubt."""
    rows = []
    accuracy = "Test accuracy (%)" if mnist_test else "Accuracy (%)"
    decimals = 2 if mnist_test else 0  # a few dozen drawings: a drawing is several points
    for run in answers:
        correct = int((run.predictions == truth).sum())
        low, high = accuracy_interval(correct, len(truth))
        rows.append({"Run": run.label, accuracy: 100 * correct / len(truth),
                     "95% interval (%)": f"{100 * low:.{decimals}f}–{100 * high:.{decimals}f}",
                     "Errors": len(truth) - correct})
        if mnist_test:
            rows[-1]["Without doubtful labels (%)"] = 100 * accuracy_without_doubtful_labels(truth, run.predictions)
    show_table(pd.DataFrame(rows), {
        accuracy: st.column_config.NumberColumn(format=f"%.{decimals}f"),
        "Without doubtful labels (%)": st.column_config.NumberColumn(
            format="%.2f", help=f"On the {len(truth) - len(label_issues().indices):,} test images whose label no "
                                "audit doubts. The official accuracy is the one on all of them."),
    })


def filter_description(kind: str, runs: int) -> str:
    """What a gallery filter picks, in words: two of them count every chosen run, not only A and B."""
    if runs == 2:
        return {"only one right": "only one of A and B right", "all wrong": "both wrong"}.get(kind, kind)
    return {"only one right": f"only one of the {runs} runs right",
            "all wrong": f"all {runs} runs wrong"}.get(kind, kind)


def disagreements(answers: list[Answers], a: Answers, b: Answers, truth: np.ndarray, kind: str,
                  cell: tuple[int, int] | None) -> np.ndarray:
    """Test images matching ``kind`` (and the difference-matrix ``cell``), most confident mistake first."""
    right = np.stack([run.predictions == truth for run in answers])
    chosen = {
        "only one right": right.sum(axis=0) == 1,
        "A right, B wrong": (a.predictions == truth) & (b.predictions != truth),
        "B right, A wrong": (b.predictions == truth) & (a.predictions != truth),
        "all wrong": ~right.any(axis=0),
    }[kind]
    if cell is not None:
        true_digit, predicted = cell
        chosen &= (truth == true_digit) & ((a.predictions == predicted) | (b.predictions == predicted))
    indices = np.flatnonzero(chosen)
    wrong_confidence = np.max([np.where(r, 0.0, run.confidences) for r, run in zip(right, answers)], axis=0)
    return indices[np.argsort(-wrong_confidence[indices], kind="stable")]


def show_differences(answers: list[Answers], truth: np.ndarray, images, window_height: int | None = None,
                     drawing_ids: np.ndarray | None = None) -> None:
    """The chosen runs' accuracies with intervals, and for two of them McNemar's test and the B − A matrix
    (its size from ``window_height`` in projector mode, see ``matrix_layout``) beside the images they differ on.

    ``drawing_ids``: the images are the class's hard set, these drawings (no label audit, no "Why?" panel)."""
    mnist_test = drawing_ids is None
    accuracy_table(answers, truth, mnist_test)
    if len(answers) < 2:
        st.caption("Choose two or more runs to test their difference.")
        return
    names = [run.label for run in answers]
    ranked = sorted(range(len(answers)), key=lambda i: int((answers[i].predictions == truth).sum()))
    a_column, b_column = st.columns(2)
    a_index = a_column.selectbox("Run A", range(len(answers)), index=ranked[-2], format_func=names.__getitem__,
                                 key="compare.a")
    b_index = b_column.selectbox("Run B", range(len(answers)), index=ranked[-1], format_func=names.__getitem__,
                                 key="compare.b")
    a, b = answers[a_index], answers[b_index]
    paired = compare_predictions(truth, a.predictions, b.predictions)
    # With more than two runs chosen, several pairs are tested at once: the verdict is Holm-corrected.
    adjusted = (holm_for_pair(truth, [run.predictions for run in answers], a_index, b_index)
                if len(answers) > 2 and a_index != b_index else None)
    st.markdown(significance_sentence(f"**A** ({literal(a.label)})", f"**B** ({literal(b.label)})", paired,
                                      adjusted, items="test images" if drawing_ids is None else "drawings"))
    counts = {"Both right": paired.both_right, "Only A right": paired.only_a_right,
              "Only B right": paired.only_b_right, "Both wrong": paired.both_wrong}
    for column, (label, value) in zip(st.columns(4), counts.items()):
        column.metric(label, f"{value:,}")

    st.header("Where A and B differ")
    matrix_column, gallery_column = st.columns([1, 1], gap="large")
    with matrix_column:
        difference = difference_matrix(confusion_matrix(truth, a.predictions), confusion_matrix(truth, b.predictions))
        height, counts_size = matrix_layout(window_height)
        figure = difference_heatmap(difference, "B − A", counts_size=counts_size)
        figure.update_layout(height=height, margin={"l": 50, "r": 10, "t": 50, "b": 60})  # room for "predicted"
        event = st.plotly_chart(for_the_room(figure), width="stretch", theme=None, on_select="rerun",
                                selection_mode="points", key="compare.difference")
        st.caption("Blue: B does better there (more right on the diagonal, fewer of that mistake off it); red: "
                   "A does. Click a cell to see its images.")
    points = (event or {}).get("selection", {}).get("points", [])
    cell = (int(points[0]["y"]), int(points[0]["x"])) if points else None
    with gallery_column:
        kind = st.segmented_control("Show", FILTERS, default=FILTERS[0], key="compare.filter", wrap=True,
                                    bind="query-params") or FILTERS[0]
        shown = disagreements(answers, a, b, truth, kind, cell)
        where = f" with true digit {cell[0]}, answered {cell[1]} by A or B" if cell else ""
        st.caption(f"{counted(len(shown), 'test image' if mnist_test else 'drawing')}: "
                   f"{filter_description(kind, len(answers))}{where}; most confident mistakes first.")
        show_gallery(shown, images, truth, answers, limit=9, per_row=3, test_images=mnist_test, numbers=drawing_ids)
    if mnist_test:
        explain_test_image(shown, images, truth)


def explain_test_image(suggested: np.ndarray, images, truth: np.ndarray) -> None:
    """The "Why?" panel for any test image (the number under each gallery image), with the runs in use."""
    drop_unreadable_number("compare.explain")
    if "compare.explain" not in st.query_params:  # start from the gallery's first image, unless a link says
        st.session_state.setdefault("compare.explain", int(suggested[0]) if len(suggested) else 0)
    index = int(st.number_input("Why? Test image #", min_value=0, max_value=len(truth) - 1, step=1,
                                key="compare.explain", bind="query-params",
                                help="Any test image: the number above each image in the galleries."))
    st.caption(f"Test image #{index}, labelled **{int(truth[index])}**; explained for the models chosen on the "
               "Draw page.")
    why_panel(normalize(images[index : index + 1]), images[index].float().numpy() / 255, selected_runs(),
              "compare")
