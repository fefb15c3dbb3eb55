import numpy as np
import pytest

from mnist_core.charts import Curve, confusion_heatmap, history_chart, probability_chart
from mnist_core.models import MODELS

HISTORY = [
    {"epoch": 1, "test_accuracy": 0.9, "train_loss": 0.3},
    {"epoch": 2, "test_accuracy": 0.95, "train_loss": 0.2},
]


def test_history_chart_overlays_runs_in_model_colours_and_percent():
    figure = history_chart([Curve("MLP", "mlp", HISTORY), Curve("MLP (2)", "mlp", HISTORY),
                            Curve("CNN", "cnn", HISTORY)])
    assert [trace.name for trace in figure.data] == ["MLP", "MLP (2)", "CNN"]
    assert figure.data[0].line.color == MODELS["mlp"].color == figure.data[1].line.color
    assert figure.data[0].line.dash != figure.data[1].line.dash
    assert list(figure.data[2].y) == [90.0, 95.0]
    assert "(%)" in figure.layout.yaxis.title.text


def test_a_run_with_validation_images_shows_its_validation_curve_dotted_in_its_colour():
    history = [{**row, "validation_accuracy": row["test_accuracy"] - 0.01, "validation_loss": 0.5} for row in HISTORY]
    figure = history_chart([Curve("LeNet-5", "lenet5", history), Curve("CNN", "cnn", HISTORY)])
    assert [trace.name for trace in figure.data] == ["LeNet-5", "LeNet-5 · validation", "CNN"]
    assert figure.data[1].line.dash == "dot" and figure.data[1].line.color == MODELS["lenet5"].color
    assert list(figure.data[1].y) == [89.0, 94.0]
    assert "dotted: validation" in figure.layout.title.text
    assert len(history_chart([Curve("LeNet-5", "lenet5", history)], metric="train_loss").data) == 1


def test_loss_chart_is_not_in_percent():
    figure = history_chart([Curve("CNN", "cnn", HISTORY)], metric="train_loss")
    assert list(figure.data[0].y) == [0.3, 0.2] and "%" not in figure.layout.yaxis.title.text


def test_confusion_heatmap_counts_and_row_normalised():
    confusion = np.diag(np.full(10, 90)) + 1
    counts = confusion_heatmap(confusion, "LeNet-5", model_key="lenet5")
    assert counts.data[0].text[0][0] == "91"
    cells = counts.data[1]  # the clickable layer: one marker per cell, carrying the value
    assert len(cells.x) == 100 and cells.customdata[1] == 1 and (cells.y[1], cells.x[1]) == (0, 1)
    normalised = confusion_heatmap(confusion, normalise=True)
    assert abs(normalised.data[1].customdata[:10].sum() - 100) < 1e-9
    # Exactly the digits 0-9 (digit 0 on top, as people read a matrix), whatever the click layer adds.
    assert tuple(normalised.layout.yaxis.range) == (9.5, -0.5) and tuple(normalised.layout.xaxis.range) == (-0.5, 9.5)
    assert normalised.layout.yaxis.scaleanchor == "x"  # square cells


def test_difference_heatmap_is_centred_on_zero_and_blue_means_b_is_better():
    from mnist_core.charts import difference_heatmap

    difference = np.zeros((10, 10), dtype=int)
    difference[4, 4], difference[4, 9] = 3, -3  # B gets three more 4s right, by mistaking fewer for 9s
    figure = difference_heatmap(difference, "B − A")
    z = np.asarray(figure.data[0].z)
    assert figure.data[0].zmin == -1 and figure.data[0].zmax == 1
    assert z[4, 4] > 0 and z[4, 9] > 0 and z[0, 0] == 0  # both cells say "B is better here"
    assert figure.data[0].text[4][9] == "-3" and figure.data[0].text[4][4] == "+3"
    assert figure.data[1].customdata[49] == -3


def test_probability_chart_groups_models():
    figure = probability_chart({"mlp": np.eye(10)[3], "lenet5": np.full(10, 0.1)})
    assert [trace.name for trace in figure.data] == ["MLP", "LeNet-5"]
    assert figure.data[0].y[3] == 100 and figure.layout.barmode == "group"
    ensemble = probability_chart({"mlp": np.eye(10)[3], "cnn": np.eye(10)[3]}, names={"cnn": "CNN × 5 seeds"})
    assert [trace.name for trace in ensemble.data] == ["MLP", "CNN × 5 seeds"]  # the legend names the ensemble


def test_the_unvalidated_probability_chart_is_what_plotly_validation_accepts_unchanged():
    import plotly.graph_objects as go

    figure = probability_chart({"mlp": np.eye(10)[3], "cnn": np.full(10, 0.1)}, title="<b>x</b>", height=300,
                               top_margin=40)
    as_written = figure.to_dict()
    assert go.Figure(as_written).to_dict() == as_written  # raises on any invalid property
    assert as_written["layout"]["height"] == 300 and as_written["layout"]["margin"]["t"] == 40
    assert as_written["layout"]["title"]["text"] == "&lt;b&gt;x&lt;/b&gt;"
    assert as_written["layout"]["font"]["size"] == 16  # the dashboard's style, as on every other chart


def test_robustness_chart_draws_one_line_per_model_and_marks_the_unchanged_level():
    from mnist_core.charts import robustness_chart

    figure = robustness_chart([-6, 0, 6], {"mlp": [0.5, 0.99, 0.49], "lenet5": [0.8, 0.99, 0.78]}, "px", 0)
    assert [trace.name for trace in figure.data] == ["MLP", "LeNet-5"]
    assert list(figure.data[1].y) == [80, 99, 78] and list(figure.data[0].x) == [-6, 0, 6]
    assert figure.layout.shapes[0].x0 == 0 and figure.layout.annotations[0].text == "unchanged"
    assert figure.layout.yaxis.range == (0, 101)


def test_enlarge_sets_every_text_larger_explicitly_and_the_margins_with_it():
    from mnist_core.charts import FONT_SIZE, enlarge, robustness_chart

    matrix = confusion_heatmap(np.eye(10, dtype=int) * 100, "CNN", model_key="cnn")
    assert enlarge(matrix, 1.25) is matrix  # in place
    assert matrix.layout.font.size == round(FONT_SIZE * 1.25)
    assert matrix.layout.xaxis.tickfont.size == round(14 * 1.25) == matrix.layout.yaxis.tickfont.size
    # Unset sizes are set from the base size: left unset, Streamlit's chart theme would pick its own.
    assert matrix.layout.xaxis.title.font.size == round(FONT_SIZE * 1.25)
    assert matrix.data[0].textfont.size == 13  # the cells keep their size, and "1130" just fits one
    assert matrix.layout.margin.l == round(60 * 1.25) and matrix.layout.margin.t == round(60 * 1.25)
    sweep = enlarge(robustness_chart([0, 1, 2], {"mlp": [0.9, 0.8, 0.7]}, "px", 0), 1.25)
    assert sweep.layout.annotations[0].font.size == round((FONT_SIZE - 2) * 1.25)
    assert sweep.layout.legend.font.size == round(FONT_SIZE * 1.25)


def test_enlarge_reaches_subplot_titles_and_the_colour_bar_and_keeps_unset_margins_automatic():
    from mnist_core.charts import FONT_SIZE, attribution_chart, enlarge

    maps = {key: (MODELS[key].name, np.random.default_rng(0).normal(size=(28, 28))) for key in MODELS}
    figure = attribution_chart(np.zeros((28, 28)), maps)
    figure.layout.margin = {"t": 50}  # as a page sets only some sides
    enlarge(figure, 1.25)
    assert [a.font.size for a in figure.layout.annotations] == [round((FONT_SIZE + 2) * 1.25)] * len(maps)
    assert figure.layout.coloraxis.colorbar.title.font.size == round(FONT_SIZE * 1.25)
    assert figure.layout.margin.t == round(50 * 1.25) and figure.layout.margin.l is None


def test_a_seed_group_draws_as_its_mean_in_a_min_max_band_with_each_seed_on_hover():
    seeds = [(seed, [{"epoch": e, "test_accuracy": 0.97 + 0.01 * e + 0.001 * seed} for e in (1, 2, 3)])
             for seed in range(3)]
    seeds.append((7, seeds[0][1][:2]))  # a seed stopped after 2 epochs: the band spans the epochs all reached
    figure = history_chart([Curve("CNN", "cnn", seeds[0][1], seeds=seeds), Curve("MLP", "mlp", HISTORY)])
    upper, lower, mean, single = figure.data[:4]
    assert list(upper.x) == [1, 2] and list(upper.y) == pytest.approx([98.2, 99.2])
    assert list(lower.y) == pytest.approx([98.0, 99.0]) and lower.fill == "tonexty"
    assert list(mean.y) == pytest.approx([98.075, 99.075]) and mean.name == "CNN · mean of 4 seeds"
    assert mean.customdata[0] == "seed 0: 98.00<br>seed 1: 98.10<br>seed 2: 98.20<br>seed 7: 98.00"
    assert upper.hoverinfo == "skip" and single.name == "MLP"
    assert "band: seeds' min–max" in figure.layout.title.text


def test_no_chart_draws_a_bar_from_a_cut_off_axis():
    """Per-class scores are dots (no length to mislead); the only bars, probabilities, start at 0."""
    from mnist_core.charts import per_class_chart

    scores = {"MLP": ("mlp", [0.98] * 10), "CNN": ("cnn", [0.988] * 10), "CNN · mine": ("cnn", [0.99] * 10)}
    figure = per_class_chart(scores, "Recall")
    assert {trace.type for trace in figure.data} == {"scatter"} and {trace.mode for trace in figure.data} == {"markers"}
    assert [trace.marker.symbol for trace in figure.data] == ["circle", "circle", "diamond"]  # two CNN runs apart
    assert figure.layout.yaxis.title.text == "Recall (%)"
    probabilities = probability_chart({"mlp": [0.1] * 10})
    assert {trace.type for trace in probabilities.data} == {"bar"} and probabilities.layout.yaxis.range[0] == 0


def test_a_chart_for_a_dark_page_has_light_text_no_white_areas_and_keeps_the_model_colours():
    from mnist_core.charts import DARK_GRID, DARK_LINE, DARK_TEXT, on_dark, robustness_chart

    figure = on_dark(robustness_chart([0, 1, 2], {"cnn": [0.99, 0.98, 0.9]}, "px", identity=0))
    assert figure.layout.paper_bgcolor == figure.layout.plot_bgcolor == "rgba(0,0,0,0)"
    assert figure.layout.font.color == DARK_TEXT and figure.layout.xaxis.gridcolor == DARK_GRID
    assert figure.data[0].line.color == MODELS["cnn"].color
    assert figure.layout.annotations[0].font.color == DARK_LINE  # "unchanged", no longer grey for a white page
