"""Projector mode and lesson links: the state that makes a view lives in the URL."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.models import MODELS
from tests.support import PROJECT_ROOT
from tests.support.apptest import APP, sidebar_text, switch_to, texts


def open_with(query: dict[str, str], page: str | None = None) -> AppTest:
    """The app opened on ``page`` with ``query`` in its URL, as a shared link opens it."""
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in query.items():
        at.query_params[name] = value
    if page:
        at.run()
        switch_to(at, page)  # a page switch starts from a clean URL: the link's parameters again
        for name, value in query.items():
            at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def style(at: AppTest) -> str:
    return "".join(e.proto.body for e in at.get("html") if e.proto.body.lstrip().startswith("<style>"))


@pytest.mark.slow
def test_present_1_turns_projector_mode_on_and_the_toggle_turns_it_off(user_runs):
    at = open_with({"present": "1"}, "pages/draw.py")
    assert at.session_state["present"] is True and at.toggle(key="present").value is True
    assert "html { font-size: 20px; }" in style(at)
    assert not at.title  # the Draw page drops its title to fit one screen
    assert at.selectbox(key="draw.run.cnn").label == "CNN"  # the models can still be chosen, under the screen
    assert at.query_params["present"] == "1"
    at.toggle(key="present").set_value(False).run()
    assert "font-size: 20px" not in style(at) and "present" not in at.query_params
    assert [t.value for t in at.title] == ["Draw a digit"]


@pytest.mark.slow
def test_without_the_parameter_the_app_is_not_in_projector_mode(user_runs):
    at = open_with({})
    assert at.session_state["present"] is False and "Projector mode" in [t.label for t in at.sidebar.toggle]
    assert "Runs in use" in sidebar_text(at)


def test_a_lesson_link_opens_a_test_image_with_its_label(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_with({"draw.tab": "Test image", "draw.test_index": "42"}, "pages/draw.py")
    assert "Test image #42, labelled **4**" in texts(at)
    assert [m.value for m in at.metric] == ["4", "4", "4"]
    at.number_input(key="draw.test_index").set_value(7).run()
    assert "Test image #7, labelled **9**" in texts(at)
    at.segmented_control(key="draw.test_digit").set_value(3).run()
    assert "labelled **3**" in texts(at)


def test_lesson_links_round_trip_the_compare_and_robustness_views(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    # A chooser's parameter holds the option as shown: readable in a link.
    at = open_with({"robustness.perturbation": "Rotation", "robustness.example": "7"}, "pages/robustness.py")
    assert [s.value for s in at.main.header] == ["Rotation"] and "Test image #7, a 9" in texts(at)
    at = open_with({"compare.metric": "Test loss", "compare.true": "7", "compare.predicted": "2"},
                   "pages/compare.py")
    assert at.segmented_control(key="compare.metric").value == "test_loss"
    assert at.selectbox(key="compare.true").value == 7 and at.selectbox(key="compare.predicted").value == 2


def test_projector_mode_shows_tables_in_its_large_type(user_runs, real_data_root, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    at = open_with({"present": "1"}, "pages/overview.py")
    assert not at.dataframe  # the data grid draws its text at ~13 px on a canvas: no CSS enlarges it
    table = at.table[0]
    assert set(table.value["Model"]) == {"MLP", "CNN", "LeNet-5"}
    # Only the columns the back of the room reads: the long descriptions would wrap over the screen.
    assert "Description" not in table.value.columns and "Recipe" not in table.value.columns
    assert {"Test accuracy (%)", "95% interval (%)", "Parameters"} <= set(table.value.columns)
    shown = table.proto.arrow_data.styler.display_values  # the page's number formats, as in the grid
    for text in (f"{table.value['Test accuracy (%)'].iloc[0]:.2f}", "61,706"):
        assert text.encode() in shown, text
    at.toggle(key="present").set_value(False).run()
    assert not at.table and len(at.dataframe) == 1


def test_projector_mode_enlarges_the_charts_and_the_answers_keep_their_colours(user_runs, real_data_root,
                                                                               monkeypatch):
    import json

    monkeypatch.setenv("MNIST_DATA_DIR", str(real_data_root))
    sizes = {}
    for present in (False, True):
        at = open_with({"present": "1"} if present else {}, "pages/robustness.py")
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        sizes[present] = (spec["layout"]["font"]["size"], spec["layout"]["xaxis"].get("tickfont", {}).get("size"))
    assert sizes == {False: (16, None), True: (20, 20)}  # the type of the mode's body text, ticks set explicitly
    # Every source's answers (the Draw tab's and a test image's) in their model's colour.
    assert "[class*='st-key-answer_cnn_'] [data-testid='stMetricValue']" in style(at)


@pytest.mark.slow
def test_a_compare_link_names_its_runs_by_folder(user_runs):
    """compare.runs holds folder paths (relative to the app's folder inside it), not the runs' labels."""
    at = open_with({"compare.runs": ["checkpoints/lenet5", "checkpoints/cnn-seed2", "nowhere/deleted"]},
                   "pages/compare.py")
    chosen = at.multiselect(key="compare.runs").value
    assert chosen == [str(PROJECT_ROOT / "checkpoints" / "lenet5"), str(PROJECT_ROOT / "checkpoints" / "cnn-seed2")]
    assert at.query_params["compare.runs"] == ["checkpoints/lenet5", "checkpoints/cnn-seed2"]
    at.multiselect(key="compare.runs").unselect(chosen[1]).run()
    assert at.query_params["compare.runs"] in ("checkpoints/lenet5", ["checkpoints/lenet5"])  # one value: AppTest's str


@pytest.mark.slow
def test_a_dark_room_link_opens_projector_mode_with_its_room_choice(user_runs):
    """?room=dark is kept (the frame reloads the browser into Streamlit's dark theme, see the browser test);
    the choice is offered in projector mode only, and "Light" drops it from the URL."""
    at = open_with({"present": "1", "room": "dark"}, "pages/draw.py")
    control = at.sidebar.get("button_group")[0]
    assert control.value == "dark" and at.query_params["room"] == "dark"
    # Styled for the dark theme from the first run, before any browser reports its theme (none does here): dark
    # text on the primary blue, the answers in their dark-room colours.
    assert "stBaseButton-primary" in style(at) and MODELS["mlp"].text_colors.dark in style(at)
    control.set_value("light").run()
    assert "room" not in at.query_params and not at.exception
    assert "stBaseButton-primary" not in style(at) and MODELS["mlp"].text_colors.light in style(at)
    at.toggle(key="present").set_value(False).run()
    assert not at.sidebar.get("button_group")  # outside projector mode the menu's Settings choose the theme
