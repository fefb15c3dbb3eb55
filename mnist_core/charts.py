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
QUIET_GREY = "#666666"  # a note on a chart (the robustness chart's "unchanged"), lightened on a dark page
_DASHES = ("solid", "dash", "dashdot", "longdash")  # not "dot": validation curves are dotted
_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x")  # several runs of one model (same colour)
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
    # A seed group's runs, (seed, history) each: drawn as their mean with a min–max band instead.
    seeds: Sequence[tuple[int, Sequence[Mapping[str, float]]]] = ()


def _seed_band(curve: Curve, metric: str, scale: float) -> tuple[list[int], np.ndarray, list[str]]:
    """The epochs every seed reached, the seeds' values there ``(seeds, epochs)``, and per epoch a hover
    line naming each seed's value."""
    by_seed = [(seed, {row["epoch"]: row.get(metric) for row in history}) for seed, history in curve.seeds]
    shared = sorted(set.intersection(*(set(epoch for epoch, value in values.items() if value is not None)
                                       for _, values in by_seed)))
    values = np.array([[values[epoch] * scale for epoch in shared] for _, values in by_seed], dtype=float)
    digits = 2 if scale == 100 else 4
    hover = ["<br>".join(f"seed {seed}: {values[i, j]:.{digits}f}" for i, (seed, _) in enumerate(by_seed))
             for j in range(len(shared))]
    return shared, values, hover


def _translucent(color: str, alpha: float) -> str:
    red, green, blue = (int(color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def history_chart(curves: Sequence[Curve], metric: str = "test_accuracy", title: str | None = None) -> go.Figure:
    """Per-epoch ``metric`` of each curve, overlaid. Accuracies are shown in percent.

    Several runs of the same model share its colour and differ by dash style. For a test
    metric, a run that held out validation images also shows its validation curve, dotted
    and fainter, in the same colour: settings are chosen on that one.
    """
    percent = metric.endswith("accuracy")
    companion = "validation_" + metric.removeprefix("test_") if metric.startswith("test_") else None
    figure = go.Figure()
    seen_per_model: dict[str, int] = {}
    dotted = False
    hover = f"%{{fullData.name}}<br>epoch %{{x}}: %{{y:.{2 if percent else 4}f}}{'%' if percent else ''}<extra></extra>"
    for curve in curves:
        repeat = seen_per_model.get(curve.model_key, 0)
        seen_per_model[curve.model_key] = repeat + 1
        color = MODELS[curve.model_key].color
        if len(curve.seeds) > 1:
            _add_seed_band(figure, curve, metric, 100 if percent else 1, _DASHES[repeat % len(_DASHES)])
            if companion and _seed_band(curve, companion, 1)[0]:
                dotted = True
                epochs, values, _ = _seed_band(curve, companion, 100 if percent else 1)
                figure.add_trace(go.Scatter(
                    x=epochs, y=values.mean(axis=0), name=plain(f"{curve.label} · validation, mean"), mode="lines",
                    legendgroup=curve.label, opacity=0.7, line={"color": color, "width": 2, "dash": "dot"},
                    hovertemplate=hover))
            continue
        epochs = [row["epoch"] for row in curve.history]
        values = [row[metric] * (100 if percent else 1) for row in curve.history]
        figure.add_trace(
            go.Scatter(
                x=epochs, y=values, name=plain(curve.label), mode="lines+markers", legendgroup=curve.label,
                line={"color": color, "width": 3, "dash": _DASHES[repeat % len(_DASHES)]},
                marker={"size": 7}, hovertemplate=hover,
            )
        )
        checked = [row for row in curve.history if row.get(companion) is not None] if companion else []
        if checked:
            dotted = True
            scale = 100 if percent else 1
            figure.add_trace(
                go.Scatter(
                    x=[row["epoch"] for row in checked], y=[row[companion] * scale for row in checked],
                    name=plain(f"{curve.label} · validation"), mode="lines", legendgroup=curve.label, opacity=0.7,
                    line={"color": color, "width": 2, "dash": "dot"}, hovertemplate=hover,
                )
            )
    label = METRIC_LABELS.get(metric, metric)
    banded = any(len(curve.seeds) > 1 for curve in curves)
    notes = [note for note, shown in (("band: seeds' min–max", banded), ("dotted: validation", dotted)) if shown]
    figure.update_layout(
        title=plain(title) if title else f"{label} per epoch" + (f" ({'; '.join(notes)})" if notes else ""),
        xaxis_title="epoch",
        yaxis_title=f"{label} (%)" if percent else label,
        hovermode="x unified",
    )
    figure.update_xaxes(dtick=1 if max((len(c.history) for c in curves), default=0) <= 20 else None)
    style(figure)
    # The legend under the chart: with a validation curve per run it takes two lines, which on
    # top ran into the title in a half-width column. It sits at the figure's bottom edge (not at a
    # share of the plot's height, which put it over the "epoch" title in a short or enlarged chart),
    # and the bottom margin holds the ticks, the axis title and two lines of legend.
    figure.update_layout(legend={"yref": "container", "yanchor": "bottom", "y": 0}, margin={"b": 120})
    figure.update_xaxes(title_standoff=6)
    return figure


def _add_seed_band(figure: go.Figure, curve: Curve, metric: str, scale: float, dash: str) -> None:
    """A seed group: the seeds' mean as a line (each seed's value on hover) in a band from their lowest
    to their highest value."""
    epochs, values, hover = _seed_band(curve, metric, scale)
    color = MODELS[curve.model_key].color
    group = curve.label
    figure.add_trace(go.Scatter(x=epochs, y=values.max(axis=0), mode="lines", line={"width": 0, "color": color},
                                legendgroup=group, showlegend=False, hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=epochs, y=values.min(axis=0), mode="lines", line={"width": 0, "color": color},
                                fill="tonexty", fillcolor=_translucent(color, 0.2), legendgroup=group,
                                showlegend=False, hoverinfo="skip"))
    digits = 2 if scale == 100 else 4
    unit = "%" if scale == 100 else ""
    figure.add_trace(go.Scatter(
        x=epochs, y=values.mean(axis=0), name=plain(f"{curve.label} · mean of {len(values)} seeds"),
        mode="lines+markers", legendgroup=group, line={"color": color, "width": 3, "dash": dash}, marker={"size": 7},
        customdata=hover, hovertemplate=f"%{{fullData.name}}<br>epoch %{{x}}: %{{y:.{digits}f}}{unit}<br>"
                                        "%{customdata}<extra></extra>"))


# Colour-blind-safe scales: a single-hue sequential blue for counts (lightness alone carries the
# value), and a blue-white-red diverging scale centred on zero for differences (no red-green).
SEQUENTIAL = [[0, "#f7fbff"], [0.25, "#c6dbef"], [0.5, "#6baed6"], [0.75, "#2171b5"], [1, "#08306b"]]
DIVERGING = [[0, "#b2182b"], [0.25, "#ef8a62"], [0.5, "#f7f7f7"], [0.75, "#67a9cf"], [1, "#2166ac"]]


def confusion_heatmap(
    confusion: np.ndarray, title: str = "", normalise: bool = False, model_key: str | None = None,
    counts_size: int = 13,
) -> go.Figure:
    """A 10x10 heatmap: rows are true digits, columns predictions; click a cell to select it.

    Args:
        confusion: counts, ``[true, predicted]``.
        normalise: show each row as percentages of that true digit (recall on the diagonal).
        model_key: a model key; the title is drawn in its colour.
        counts_size: the counts' type in px (four digits must fit a cell: 13 for a 470-px figure, 18 for 600).
    """
    values = confusion_values(confusion, normalise)
    if normalise:
        text = [[f"{v:.1f}" if v >= 0.05 else "" for v in row] for row in values]
        hover = "true %{y}, predicted %{x}: %{customdata:.2f}% of the true %{y}s<extra></extra>"
    else:
        text = [[f"{int(v)}" if v else "" for v in row] for row in values]
        hover = "true %{y}, predicted %{x}: %{customdata:.0f} images<extra></extra>"
    # Errors are rare next to the diagonal; a square-root scale keeps them visible.
    scale_top = values.max() if values.size and values.max() > 0 else 1
    return _clickable_matrix(np.sqrt(values / scale_top), text, values, hover, title, model_key,
                             colorscale=SEQUENTIAL, zmin=0, zmax=1, counts_size=counts_size)


def confusion_values(confusion: np.ndarray, normalise: bool = False) -> np.ndarray:
    """A confusion matrix's cells as shown: its counts, or with ``normalise`` each row as percentages of that true
    digit (a row without images: zeros). The heatmap and its table (dashboard/accessibility.py) both show these."""
    counts = np.asarray(confusion, dtype=np.float64)
    if not normalise:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(100 * counts, totals, out=np.zeros_like(counts), where=totals > 0)


def difference_heatmap(difference: np.ndarray, title: str = "", counts_size: int = 13) -> go.Figure:
    """B − A per cell of two confusion matrices, on a diverging scale centred on zero.

    Blue on the diagonal: B gets that digit right more often; blue off it: B makes that
    mistake less often. Red: the other way round. Click a cell to select it.
    """
    values = np.asarray(difference, dtype=np.float64)
    # Off the diagonal a difference of a few images matters; the diagonal's gains and losses
    # mirror them. Sign flipped off the diagonal, so blue always means "B is better here".
    better = np.where(np.eye(len(values), dtype=bool), values, -values)
    top = max(1.0, float(np.abs(better).max()))
    text = [[f"{int(v):+d}" if v else "" for v in row] for row in values]
    hover = "true %{y}, predicted %{x}: B − A = %{customdata:+.0f} images<extra></extra>"
    return _clickable_matrix(np.sign(better) * np.sqrt(np.abs(better) / top), text, values, hover, title, None,
                             colorscale=DIVERGING, zmin=-1, zmax=1, counts_size=counts_size)


def _clickable_matrix(z, text, values, hover, title, model_key, colorscale, zmin, zmax,
                      counts_size: int = 13) -> go.Figure:
    figure = go.Figure(
        go.Heatmap(
            z=z, x=list(range(10)), y=list(range(10)), zmin=zmin, zmax=zmax,
            text=text, texttemplate="%{text}", textfont={"size": counts_size},
            colorscale=colorscale, showscale=False, hoverinfo="skip", xgap=2, ygap=2,
        )
    )
    # Plotly heatmaps cannot be clicked to select a cell; an invisible marker on each cell can.
    # A selected cell gets a dark outline.
    true_digits, predicted_digits = np.divmod(np.arange(100), 10)
    figure.add_trace(
        go.Scatter(
            x=predicted_digits, y=true_digits, mode="markers", customdata=np.asarray(values).ravel(),
            marker={"symbol": "square-open", "size": 26, "color": "#111111", "opacity": 0, "line": {"width": 3}},
            selected={"marker": {"opacity": 1}}, unselected={"marker": {"opacity": 0}},
            hovertemplate=hover, showlegend=False, name="",
        )
    )
    colour = MODELS[model_key].text_colors.light if model_key in MODELS else None  # text: the readable variant
    figure.update_layout(title={"text": plain(title), "font": {"color": colour} if colour else {}},
                         xaxis_title="predicted", yaxis_title="true", clickmode="event+select", dragmode=False)
    # Exactly the ten digits on each axis (the click markers would otherwise pad them to −1…10),
    # and square cells.
    figure.update_xaxes(range=[-0.5, 9.5], tickvals=list(range(10)), side="bottom", constrain="domain",
                        constraintoward="left", showgrid=False, zeroline=False, fixedrange=True, tickfont={"size": 14})
    figure.update_yaxes(range=[9.5, -0.5], tickvals=list(range(10)), scaleanchor="x", constrain="domain",
                        constraintoward="top", showgrid=False, zeroline=False, fixedrange=True, tickfont={"size": 14})
    return style(figure)


def per_class_chart(scores: Mapping[str, tuple[str, Sequence[float]]], score: str) -> go.Figure:
    """A dot plot: for each digit, each run's ``score`` (precision, recall or F1) in percent, the runs side
    by side.

    Dots, not bars: the scores differ by tenths of a point near 100 %, and bars cut off at 95 % made
    98.0 against 98.8 look like a factor of three. A dot's height is read on the labelled axis, which
    spans the dots; it has no length to mislead. ``scores`` maps a run's label to (its model key, ten
    scores in [0, 1]).
    """
    figure = go.Figure()
    seen_per_model: dict[str, int] = {}
    runs = len(scores)
    for position, (label, (model_key, values)) in enumerate(scores.items()):
        repeat = seen_per_model.get(model_key, 0)
        seen_per_model[model_key] = repeat + 1
        offset = (position - (runs - 1) / 2) * min(0.18, 0.7 / max(runs, 1))  # side by side within a digit
        figure.add_trace(go.Scatter(
            x=[digit + offset for digit in range(10)], y=[100 * float(v) for v in values], name=plain(label),
            mode="markers", customdata=list(range(10)),
            marker={"color": MODELS[model_key].color, "size": 13, "symbol": _SYMBOLS[repeat % len(_SYMBOLS)],
                    "line": {"width": 1, "color": "#FFFFFF"}},
            hovertemplate="%{fullData.name}: digit %{customdata} %{y:.2f}%<extra></extra>",
        ))
    figure.update_layout(xaxis_title="digit", yaxis_title=f"{score} (%)")
    figure.update_xaxes(tickvals=list(range(10)), range=[-0.6, 9.6], showgrid=False)
    figure.update_yaxes(tickformat=".1f")
    return style(figure)


def probability_chart(probabilities: Mapping[str, Sequence[float]], title: str = "", height: int | None = None,
                      top_margin: int = 60, font_size: int | None = None,
                      names: Mapping[str, str] | None = None) -> go.Figure:
    """Grouped bars: for each digit 0-9, each model's probability (in percent); ``names``: a model's name in the
    legend where it is not the registry's (e.g. "CNN × 5 seeds", its seeds answering together).

    Drawn on every stroke, so the figure is written out as plain data and not validated
    property by property (20 ms of each Draw update otherwise); ``tests/test_charts.py``
    checks that Plotly's validation accepts it unchanged.
    """
    names = {key: (names or {}).get(key, MODELS[key].name) for key in probabilities}
    data = [
        {"type": "bar", "x": list(range(10)), "y": [100 * float(p) for p in probs], "name": names[key],
         "marker": {"color": MODELS[key].color},
         "hovertemplate": f"{names[key]}: digit %{{x}} %{{y:.1f}}%<extra></extra>"}
        for key, probs in probabilities.items()
    ]
    layout = {
        **_STYLE, "margin": {**_STYLE["margin"], "t": top_margin}, "font": {"size": font_size or FONT_SIZE},
        "title": {"text": plain(title)}, "barmode": "group", "bargap": 0.2,
        "xaxis": {"title": {"text": "digit"}, "dtick": 1},
        "yaxis": {"title": {"text": "probability (%)"}, "range": [0, 100]},
    }
    if font_size is not None:  # the tick labels too (Streamlit's chart theme sets its own otherwise)
        for axis in ("xaxis", "yaxis"):
            layout[axis]["tickfont"] = {"size": font_size}
            layout[axis]["title"]["font"] = {"size": font_size}
        layout["legend"] = {**layout["legend"], "font": {"size": font_size}}
    if height is not None:
        layout["height"] = height
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def robustness_chart(levels: Sequence[float], accuracy: Mapping[str, Sequence[float]], unit: str,
                     identity: float, title: str = "") -> go.Figure:
    """Accuracy (%) against severity, one line per model in its colour; the unchanged level marked."""
    figure = go.Figure()
    for key, values in accuracy.items():
        spec = MODELS[key]
        figure.add_trace(go.Scatter(
            x=list(levels), y=[100 * float(v) for v in values], name=spec.name, mode="lines+markers",
            line={"color": spec.color, "width": 3}, marker={"size": 8},
            hovertemplate=f"{spec.name}: %{{y:.1f}}%<extra></extra>",
        ))
    figure.add_vline(x=identity, line={"color": "#888888", "width": 1.5, "dash": "dot"},
                     annotation={"text": "unchanged", "font": {"size": FONT_SIZE - 2, "color": QUIET_GREY}},
                     annotation_position="bottom right")  # at the top it ran into the legend
    figure.update_layout(title=plain(title), xaxis_title=f"severity ({unit})", yaxis_title="accuracy (%)",
                         hovermode="x unified")
    figure.update_xaxes(tickvals=list(levels), ticktext=[f"{level:g}" for level in levels])
    figure.update_yaxes(range=[0, 101])
    return style(figure)


def attribution_chart(pixels: np.ndarray, maps: Mapping[str, tuple[str, np.ndarray]]) -> go.Figure:
    """One heatmap per model side by side, on one symmetric blue-white-red scale, with the digit's
    outline drawn over each (``maps``: model key → (title, 28x28 attribution))."""
    from plotly.subplots import make_subplots

    keys = list(maps)
    figure = make_subplots(rows=1, cols=len(keys), subplot_titles=[plain(maps[key][0]) for key in keys],
                           horizontal_spacing=0.04)
    top = max((float(np.abs(values).max()) for _, values in maps.values()), default=1.0) or 1.0
    for column, key in enumerate(keys, start=1):
        values = np.asarray(maps[key][1], dtype=float)
        figure.add_trace(go.Heatmap(
            z=values, coloraxis="coloraxis", hovertemplate="row %{y}, column %{x}: %{z:.3f}<extra></extra>",
        ), row=1, col=column)
        figure.add_trace(go.Contour(
            z=np.asarray(pixels, dtype=float), showscale=False, contours={"start": 0.5, "end": 0.5, "coloring": "none"},
            line={"color": "#222222", "width": 1.5}, hoverinfo="skip",
        ), row=1, col=column)
        figure.update_xaxes(visible=False, range=[-0.5, 27.5], constrain="domain", row=1, col=column)
        figure.update_yaxes(visible=False, range=[27.5, -0.5], scaleanchor=f"x{column if column > 1 else ''}",
                            row=1, col=column)
    # Red for pixels that supported the answer, blue for those against it: the diverging scale, turned round.
    figure.update_layout(coloraxis={"colorscale": [[1 - position, colour] for position, colour in DIVERGING[::-1]],
                                    "cmin": -top, "cmax": top, "colorbar": {"title": {"text": "credit"}}},
                         showlegend=False)
    for annotation, key in zip(figure.layout.annotations, keys):
        annotation.font = {"color": MODELS[key].text_colors.light, "size": FONT_SIZE + 2}
    return style(figure)


def enlarge(figure: go.Figure, factor: float) -> go.Figure:
    """The labels of ``figure`` ``factor`` times larger, and its margins with them (projector mode):
    the base font, axis ticks and titles, legend, title, annotations and colour-bar titles.

    Sizes are set explicitly, axis by axis: a size left unset would be Streamlit's chart theme's.
    The counts on a heatmap's cells stay: the cells do not grow, and four digits just fit them;
    hover labels stay too. Changes ``figure`` in place and returns it.
    """
    base = figure.layout.font.size or FONT_SIZE
    scaled = lambda size: round((size or base) * factor)  # noqa: E731
    figure.layout.font.size = scaled(base)
    for axes in (figure.for_each_xaxis, figure.for_each_yaxis):
        axes(lambda axis: axis.update(tickfont_size=scaled(axis.tickfont.size),
                                      title_font_size=scaled(axis.title.font.size)))
    figure.layout.legend.font.size = scaled(figure.layout.legend.font.size)
    if figure.layout.title.font.size:
        figure.layout.title.font.size = scaled(figure.layout.title.font.size)
    for annotation in figure.layout.annotations:
        annotation.font.size = scaled(annotation.font.size)
    if figure.layout.coloraxis.colorbar.title.text:
        figure.layout.coloraxis.colorbar.title.font.size = scaled(figure.layout.coloraxis.colorbar.title.font.size)
    margin = figure.layout.margin  # the sides set (unset ones are Plotly's automatic margins)
    figure.update_layout(margin={side: round(getattr(margin, side) * factor) for side in ("l", "r", "t", "b")
                                 if getattr(margin, side) is not None})
    return figure


# For a dark page (projector mode's dark room): light text, faint grid lines, no white plot area.
DARK_TEXT, DARK_GRID, DARK_LINE = "#FAFAFA", "#3A3D45", "#9AA0A6"


def on_dark(figure: go.Figure) -> go.Figure:
    """``figure`` drawn for a dark page: transparent backgrounds, light text, dim grid lines. The model
    colours, the matrices' colour scales and their counts' colours stay (a matrix is a light block of its own).
    Changes ``figure`` in place and returns it."""
    figure.update_layout(paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", font_color=DARK_TEXT)
    figure.update_xaxes(gridcolor=DARK_GRID, linecolor=DARK_LINE, zerolinecolor=DARK_GRID, tickcolor=DARK_LINE)
    figure.update_yaxes(gridcolor=DARK_GRID, linecolor=DARK_LINE, zerolinecolor=DARK_GRID, tickcolor=DARK_LINE)
    # A model's name written in its colour (a title, a panel's heading) takes the variant that reads on a dark page.
    on_dark_page = {QUIET_GREY: DARK_LINE,
                    **{spec.text_colors.light: spec.text_colors.dark for spec in MODELS.values()}}
    for annotation in figure.layout.annotations:
        if annotation.font.color in on_dark_page:  # a note's grey or a model's text colour, made for a white page
            annotation.font.color = on_dark_page[annotation.font.color]
    if figure.layout.title.font.color in on_dark_page:
        figure.layout.title.font.color = on_dark_page[figure.layout.title.font.color]
    return figure


def seed_strip_chart(groups: Sequence) -> go.Figure:
    """Each seed group (:class:`mnist_core.seeds.SeedGroup`) as its seeds' test accuracies (%), one dot
    per seed, and their mean ± sd as a bar with whiskers beside them; a diamond for the ensemble.

    A dot plot, not bars: the differences are tenths of a point, and a bar's length from a cut-off
    axis would exaggerate them (the axis is labelled, and spans the dots)."""
    figure = go.Figure()
    for index, group in enumerate(groups):
        spec = MODELS[group.model]
        values = [100 * accuracy for accuracy in group.accuracies]
        figure.add_trace(go.Scatter(
            # Side by side in seed order, so that two seeds a hundredth apart do not hide each other.
            x=[index - 0.2 + 0.04 * position for position in range(len(values))], y=values, mode="markers",
            name=spec.name, showlegend=False,
            marker={"color": spec.color, "size": 11, "opacity": 0.8, "line": {"width": 1, "color": "#FFFFFF"}},
            customdata=group.seeds, hovertemplate=f"{spec.name}, seed %{{customdata}}: %{{y:.2f}}%<extra></extra>",
        ))
        spread = 100 * group.sd if group.sd is not None else 0
        figure.add_trace(go.Scatter(
            x=[index + 0.15], y=[100 * group.mean], mode="markers", showlegend=False,
            marker={"color": spec.color, "size": 14, "symbol": "line-ew-open", "line": {"width": 4}},
            error_y={"type": "data", "array": [spread], "color": spec.color, "thickness": 2, "width": 8},
            hovertemplate=f"{spec.name}: mean %{{y:.2f}}% ± {spread:.2f} over {len(values)} seed(s)<extra></extra>",
        ))
        if group.ensemble_accuracy is not None:
            figure.add_trace(go.Scatter(
                x=[index + 0.3], y=[100 * group.ensemble_accuracy], mode="markers", showlegend=False,
                marker={"color": spec.color, "size": 13, "symbol": "diamond"},
                hovertemplate=f"{spec.name}: the {len(values)} seeds averaged, %{{y:.2f}}%<extra></extra>",
            ))
    figure.update_layout(yaxis_title="test accuracy (%)", height=360)
    figure.update_xaxes(tickvals=list(range(len(groups))), ticktext=[plain(MODELS[g.model].name) for g in groups],
                        range=[-0.6, len(groups) - 0.4])
    figure.update_yaxes(tickformat=".1f")
    style(figure)
    figure.update_layout(margin={"t": 20})  # no title or legend above it
    return figure


def plain(text: str) -> str:
    """``text`` for a Plotly label: Plotly reads a few HTML tags in labels; show them as text."""
    return html.escape(str(text), quote=False)


def style(figure: go.Figure) -> go.Figure:
    """The dashboard's look: large type, legend on top.

    No Plotly template: Streamlit's chart theme styles the figure in the browser, and
    applying a template costs a noticeable part of every prediction update.
    """
    figure.update_layout(**_STYLE)
    return figure


_STYLE = {
    "template": {"data": {"scatter": [{"type": "scatter"}]}},  # what template="none" becomes
    "font": {"size": FONT_SIZE},
    "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
}
