"""Model colours as text (issue 36): each registry entry's text colours read 4.5:1 on both backgrounds of
their room, keep the colour's hue, and a model registered without them gets them derived."""

from __future__ import annotations

import colorsys

import pytest
from torch import nn

from mnist_core import models as registry
from mnist_core.models import (
    MODELS,
    PALETTE,
    ROOM_BACKGROUNDS,
    TEXT_CONTRAST,
    TextColors,
    contrast_ratio,
    register_model,
    text_colors_for,
)


def test_contrast_ratio_is_wcags():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21)
    assert contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1)
    assert contrast_ratio("#E69F00", "#FFFFFF") == pytest.approx(2.25, abs=0.01)  # the CNN's orange, as the issue
    assert contrast_ratio("#FFFFFF", "#1C86C8") == pytest.approx(3.96, abs=0.01)  # measured it
    assert contrast_ratio("#777", "#FFF") == contrast_ratio("#777777", "white")


@pytest.mark.parametrize("key", list(MODELS))
@pytest.mark.parametrize("room", ["light", "dark"])
def test_every_registered_models_text_colour_reads_4_5_to_1_in_its_room(key, room):
    text = getattr(MODELS[key].text_colors, room)
    for background in ROOM_BACKGROUNDS[room]:
        assert contrast_ratio(text, background) >= TEXT_CONTRAST, (key, room, text, background)


@pytest.mark.parametrize("color", [*PALETTE, "#F0E442", "#FFFFFF", "#000000", "teal", "rgb(230, 159, 0)"])
def test_derived_text_colours_pass_and_keep_the_hue(color):
    colors = text_colors_for(color)
    hue = colorsys.rgb_to_hls(*registry._rgb(color))[0]
    for room in ("light", "dark"):
        text = getattr(colors, room)
        assert all(contrast_ratio(text, background) >= TEXT_CONTRAST for background in ROOM_BACKGROUNDS[room])
        text_hue, lightness, saturation = colorsys.rgb_to_hls(*registry._rgb(text))
        if 0.05 < lightness < 0.95 and saturation > 0.1:  # black, white and greys have no hue to keep
            assert abs(text_hue - hue) < 0.02, (color, room, text)


def test_a_colour_that_passes_is_kept():
    assert text_colors_for("#0072B2").light == "#0072B2"  # the MLP's blue: 5.2:1 on white
    assert text_colors_for("#E69F00").dark == "#E69F00"  # the CNN's orange: 8:1 on the dark page


def test_an_unreadable_colour_is_refused_with_what_to_give():
    with pytest.raises(ValueError, match="CSS colour"):
        text_colors_for("not a colour")


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(784, 10)

    def forward(self, x):
        return self.linear(x.flatten(1))


@pytest.fixture
def clean_registry():
    saved = dict(MODELS)
    yield
    MODELS.clear()
    MODELS.update(saved)


def test_a_users_model_gets_text_colours_derived_or_keeps_its_own(clean_registry):
    derived = register_model("yellowish", "Yellowish", _Tiny, color="#F0E442")
    assert derived.text_colors == text_colors_for("#F0E442")
    assert contrast_ratio(derived.text_colors.light, "#FFFFFF") >= TEXT_CONTRAST
    own = register_model("own", "Own", _Tiny, color="#F0E442", text_colors=("#5C5700", "#F0E442"))
    assert own.text_colors == TextColors("#5C5700", "#F0E442")
    with pytest.raises(ValueError, match=r"light room's text colour #F0E442 reads 1\.\d:1 on #FFFFFF"):
        register_model("pale", "Pale", _Tiny, color="#F0E442", text_colors=("#F0E442", "#F0E442"))
    assert "pale" not in MODELS


def test_the_themes_primary_colours_are_the_mlps_text_colours():
    """The config's primary colour is text too (links, the chosen tab): the MLP's readable blue in each room."""
    import tomllib

    from tests.support import PROJECT_ROOT

    theme = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())["theme"]
    assert theme["light"]["primaryColor"].upper() == MODELS["mlp"].text_colors.light.upper()
    assert theme["dark"]["primaryColor"].upper() == MODELS["mlp"].text_colors.dark.upper()


@pytest.mark.parametrize("dark", [False, True])
def test_a_model_named_in_its_colour_on_a_chart_reads_in_either_room(dark):
    """Plotly's SVG text is out of axe's reach: a confusion matrix's title and an attribution panel's heading
    take the model's text colour, and the dark room's variant on a dark page."""
    import numpy as np

    from mnist_core.charts import attribution_chart, confusion_heatmap, on_dark

    room = "dark" if dark else "light"
    heatmap = confusion_heatmap(np.eye(10, dtype=int) * 9, "CNN", model_key="cnn")
    maps = attribution_chart(np.zeros((28, 28)), {"cnn": ("CNN says 0", np.ones((28, 28)))})
    for figure in (heatmap, maps):
        if dark:
            on_dark(figure)
    colours = [heatmap.layout.title.font.color, *(note.font.color for note in maps.layout.annotations)]
    assert colours and all(colour == getattr(MODELS["cnn"].text_colors, room) for colour in colours), colours
