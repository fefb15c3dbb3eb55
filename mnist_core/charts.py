"""Plotly figures for the dashboard: training curves, confusion matrices, probabilities.

Every function returns a ``plotly.graph_objects.Figure`` and draws each model in its
registry colour, so the same model looks the same on every chart. Fonts are large
enough to read on a projector.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from .models import MODELS

FONT_SIZE = 16
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
METRIC_LABELS = {
    "test_accuracy": "Test accuracy",
    "train_accuracy": "Train accuracy",
    "test_loss": "Test loss",
    "train_loss": "Train loss",
}


@dataclass(frozen=True)
class Curve:
    """One run's history, labelled and coloured for a chart."""

    label: str
    model_key: str  # a key of MODELS: picks the colour
    history: Sequence[Mapping[str, float]]  # rows with "epoch" and the metric


def history_chart(curves: Sequence[Curve], metric: str = "test_accuracy", title: str | None = None) -> go.Figure:
    """Per-epoch ``metric`` of each curve, overlaid. Accuracies are shown in percent.

    Several runs of the same model share its colour and differ by dash style.
    """
    percent = metric.endswith("accuracy")
    figure = go.Figure()
    seen_per_model: dict[str, int] = {}
    for curve in curves:
        repeat = seen_per_model.get(curve.model_key, 0)
        seen_per_model[curve.model_key] = repeat + 1
        epochs = [row["epoch"] for row in curve.history]
        values = [row[metric] * (100 if percent else 1) for row in curve.history]
        figure.add_trace(
            go.Scatter(
                x=epochs, y=values, name=plain(curve.label), mode="lines+markers",
                line={"color": MODELS[curve.model_key].color, "width": 3, "dash": _DASHES[repeat % len(_DASHES)]},
                marker={"size": 7},
                hovertemplate=f"%{{fullData.name}}<br>epoch %{{x}}: %{{y:.{2 if percent else 4}f}}"
                              f"{'%' if percent else ''}<extra></extra>",
            )
        )
    label = METRIC_LABELS.get(metric, metric)
    figure.update_layout(
        title=plain(title) if title else f"{label} per epoch",
        xaxis_title="epoch",
        yaxis_title=f"{label} (%)" if percent else label,
        hovermode="x unified",
    )
    figure.update_xaxes(dtick=1 if max((len(c.history) for c in curves), default=0) <= 20 else None)
    return style(figure)


def confusion_heatmap(
    confusion: np.ndarray, title: str = "", normalise: bool = False, model_key: str | None = None
) -> go.Figure:
    """A 10x10 heatmap: rows are true digits, columns predictions.

    Args:
        confusion: counts, ``[true, predicted]``.
        normalise: show each row as percentages of that true digit (recall on the diagonal).
        model_key: a model key; its colour tints the scale.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    if normalise:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(100 * counts, totals, out=np.zeros_like(counts), where=totals > 0)
        text = [[f"{v:.1f}" if v >= 0.05 else "" for v in row] for row in values]
        hover = "true %{y}, predicted %{x}: %{customdata:.2f}% of the true %{y}s<extra></extra>"
    else:
        values = counts
        text = [[f"{int(v)}" if v else "" for v in row] for row in values]
        hover = "true %{y}, predicted %{x}: %{customdata:.0f} images<extra></extra>"
    # Errors are rare next to the diagonal; a square-root scale keeps them visible.
    scale_top = values.max() if values.size and values.max() > 0 else 1
    colour = MODELS[model_key].color if model_key in MODELS else "#444444"
    figure = go.Figure(
        go.Heatmap(
            z=np.sqrt(values / scale_top),
            x=list(range(10)), y=list(range(10)),
            text=text, texttemplate="%{text}", textfont={"size": 12},
            colorscale=[[0, "#ffffff"], [1, colour]], showscale=False,
            hoverinfo="skip", xgap=1, ygap=1,
        )
    )
    # Plotly heatmaps cannot be clicked to select a cell; an invisible marker on each cell can.
    # A selected cell gets a dark outline.
    true_digits, predicted_digits = np.divmod(np.arange(100), 10)
    figure.add_trace(
        go.Scatter(
            x=predicted_digits, y=true_digits, mode="markers", customdata=values.ravel(),
            marker={"symbol": "square-open", "size": 22, "color": "#222222", "opacity": 0,
                    "line": {"width": 3}},
            selected={"marker": {"opacity": 1}}, unselected={"marker": {"opacity": 0}},
            hovertemplate=hover, showlegend=False, name="",
        )
    )
    figure.update_layout(title=plain(title), xaxis_title="predicted", yaxis_title="true")
    figure.update_layout(clickmode="event+select", dragmode=False)
    figure.update_xaxes(dtick=1, side="bottom", constrain="domain")
    figure.update_yaxes(dtick=1, autorange="reversed", scaleanchor="x", constrain="domain")
    return style(figure)


def probability_chart(probabilities: Mapping[str, Sequence[float]], title: str = "") -> go.Figure:
    """Grouped bars: for each digit 0-9, each model's probability (in percent)."""
    figure = go.Figure()
    for key, probs in probabilities.items():
        spec = MODELS[key]
        figure.add_trace(
            go.Bar(
                x=list(range(10)), y=[100 * float(p) for p in probs], name=spec.name,
                marker_color=spec.color,
                hovertemplate=f"{spec.name}: digit %{{x}} %{{y:.1f}}%<extra></extra>",
            )
        )
    figure.update_layout(title=plain(title), barmode="group", xaxis_title="digit", yaxis_title="probability (%)",
                         bargap=0.2)
    figure.update_xaxes(dtick=1)
    figure.update_yaxes(range=[0, 100])
    return style(figure)


def plain(text: str) -> str:
    """``text`` for a Plotly label: Plotly reads a few HTML tags in labels; show them as text."""
    return html.escape(str(text), quote=False)


def style(figure: go.Figure) -> go.Figure:
    """The dashboard's look: large type, legend on top.

    No Plotly template: Streamlit's chart theme styles the figure in the browser, and
    applying a template costs a noticeable part of every prediction update.
    """
    figure.update_layout(
        template="none",
        font={"size": FONT_SIZE},
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    )
    return figure
