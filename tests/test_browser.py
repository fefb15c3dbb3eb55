"""The real thing: `streamlit run app.py` driven by Playwright in headless Chromium.

Draws with the mouse on the canvas and reads the models' `st.metric`s. In CI these tests
must run: a missing Chromium fails them instead of skipping.
"""

from __future__ import annotations

import math
import time

import pytest

from tests.support.browser import (
    canvas_box,
    chromium,
    metric_values,
    require_chromium,
    streamlit_server,
    stroke,
    vertical_stroke,
    wait_for,
)
from tests.support.mnist_files import real_data_root_or_none

pytestmark = pytest.mark.browser
PAGES = {"/": "MNIST model comparison", "/train": "Train models", "/compare": "Compare runs",
         "/robustness": "Robustness", "/draw": "Draw a digit", "/audience": "Audience"}


@pytest.fixture(scope="module")
def browser():
    with chromium(require_chromium()) as launched:
        yield launched


@pytest.fixture(scope="module")
def audience_path(tmp_path_factory):
    return tmp_path_factory.mktemp("audience") / "audience.sqlite3"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, audience_path):
    env = {"MNIST_RUNS_DIR": str(tmp_path_factory.mktemp("runs")), "MNIST_AUDIENCE_DB": str(audience_path)}
    data_root = real_data_root_or_none()
    if data_root is not None:
        env["MNIST_DATA_DIR"] = str(data_root.resolve())
    with streamlit_server(env) as server:
        yield server.url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield context.new_page()
    context.close()


def assert_no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0


def test_drawing_a_one_then_a_zero(app_url, page, tmp_path):
    page.goto(f"{app_url}/draw")
    box = canvas_box(page)
    wait_for(lambda: page.get_by_text("Draw a digit (0–9) on the black canvas").count(), what="the prompt")
    assert metric_values(page) == []

    stroke(page, vertical_stroke(box))
    values = wait_for(lambda: metric_values(page) if len(metric_values(page)) == 3 else None, what="3 predictions")
    assert values == ["1", "1", "1"], values
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    assert [label.strip() for label in labels] == ["MLP", "CNN", "LeNet-5"]
    page.screenshot(path=str(tmp_path / "one.png"))

    page.get_by_role("button", name="Reset canvas & history").click()
    wait_for(lambda: page.get_by_text("Draw a digit (0–9) on the black canvas").count(), what="the prompt again")
    # Streamlit removes the previous run's elements when the new run ends, a moment after the prompt.
    wait_for(lambda: not metric_values(page), timeout=10, what="the predictions to go")

    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    loop = [(centre_x + 70 * math.sin(2 * math.pi * i / 48), centre_y - 95 * math.cos(2 * math.pi * i / 48))
            for i in range(52)]
    stroke(page, loop)
    values = wait_for(lambda: metric_values(page) if metric_values(page) == ["0", "0", "0"] else None,
                      what="three zeros")
    assert values == ["0", "0", "0"]
    assert page.get_by_text("All 3 models agree").count() == 1
    assert_no_exception(page)


def test_nudging_a_drawing_and_sweeping_it(app_url, page):
    page.goto(f"{app_url}/draw")
    stroke(page, vertical_stroke(canvas_box(page)))
    wait_for(lambda: len(metric_values(page)) == 3, what="3 predictions")
    page.get_by_text("Nudge it").click()
    shift = page.get_by_role("slider").first  # "Shift right (px)"
    shift.wait_for(timeout=10_000)
    shift.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    wait_for(lambda: page.get_by_text("What the models see, nudged").count(), what="the nudged digit")
    shown = page.locator('[data-testid="stSliderThumbValue"]').first
    assert shown.inner_text() == "+4"
    wait_for(lambda: len(metric_values(page)) == 3, what="3 predictions of the nudged digit")
    page.get_by_role("button", name="Reset nudges").click()
    wait_for(lambda: page.get_by_text("What the models see (28x28)").count(), what="the digit as drawn")
    wait_for(lambda: shown.inner_text() == "+0", what="the slider back at 0")

    page.get_by_text("Sweep my drawing").click()
    strip = page.locator("img[alt^='Shifted']")
    wait_for(lambda: strip.count() == 8, what="the drawing at eight shifts")
    assert page.locator("img[alt='unchanged']").count() == 1
    assert_no_exception(page)


def test_labelling_a_drawing_stores_it_once_and_the_audience_page_counts_it(app_url, page, audience_path):
    from mnist_core.audience import AudienceStore

    store = AudienceStore(audience_path)
    before = store.count()
    page.goto(f"{app_url}/draw")
    stroke(page, vertical_stroke(canvas_box(page)))
    wait_for(lambda: metric_values(page) == ["1", "1", "1"], what="three 1s")
    assert store.count() == before  # nothing is stored before a digit is pressed
    page.locator(".st-key-audience_label_7 button").click()  # the wrong digit first...
    wait_for(lambda: page.get_by_text("Stored as a 7").count(), what="the stored label")
    page.locator(".st-key-audience_label_1 button").click()  # ...then corrected
    wait_for(lambda: page.get_by_text("Stored as a 1").count(), what="the corrected label")
    assert store.count() == before + 1
    newest = store.drawings()[-1]
    assert newest.label == 1 and newest.answers == {"mlp": 1, "cnn": 1, "lenet5": 1}
    page.goto(f"{app_url}/audience")
    page.get_by_role("heading", name="Audience").wait_for(timeout=60_000)
    wait_for(lambda: page.get_by_text(f"{before + 1} drawing(s)").count(), what="the audience's count")
    assert_no_exception(page)


@pytest.mark.parametrize("path, title", PAGES.items())
def test_every_page_renders_without_exception(app_url, page, path, title):
    page.goto(f"{app_url}{path}")
    page.get_by_role("heading", name=title).wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    time.sleep(1)  # let late elements (charts, images) arrive
    assert_no_exception(page)
    assert page.get_by_text("Runs in use").count() == 1  # the shared sidebar: the frame ran


def test_clicking_a_confusion_cell_shows_those_mistakes(app_url, page, real_data_root):
    page.goto(f"{app_url}/compare")
    page.get_by_role("heading", name="Confusion matrices").wait_for(timeout=60_000)
    heatmap = page.locator('[data-testid="stPlotlyChart"]').nth(2)  # the first run's matrix (after B − A, curves)
    heatmap.scroll_into_view_if_needed()
    area = heatmap.locator(".nsewdrag").first
    area.wait_for(timeout=30_000)
    box = area.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 2.5 / 10, box["y"] + box["height"] * 7.5 / 10)  # true 7, predicted 2
    wait_for(lambda: page.get_by_text("test images of a 7 were predicted as 2").count()
             or page.get_by_text("No chosen run mistakes a 7 for a 2").count(),
             timeout=60, what="the mistakes of 7 → 2")
    assert_no_exception(page)


def axis_ticks(chart, axis: str) -> list[str]:
    """The tick labels of a Plotly chart's ``x`` or ``y`` axis (SVG text, so textContent)."""
    return chart.locator(f"g.{axis}tick text").evaluate_all("texts => texts.map(text => text.textContent)")


@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_matrices_read_0_to_9_and_a_difference_cell_filters_the_gallery(app_url, browser, real_data_root,
                                                                         width, height):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{app_url}/compare")
    page.get_by_role("heading", name="Confusion matrices").wait_for(timeout=90_000)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    wait_for(lambda: charts.count() == 6, timeout=60, what="six charts")
    digits = [str(d) for d in range(10)]
    for index in (0, 2, 3, 4):  # B − A and the three confusion matrices
        charts.nth(index).scroll_into_view_if_needed()
        wait_for(lambda: axis_ticks(charts.nth(index), "x") == digits, timeout=30, what=f"0–9 on chart {index}")
        assert axis_ticks(charts.nth(index), "y") == digits
        box = charts.nth(index).locator(".nsewdrag").first.bounding_box()
        assert box["width"] / 10 >= 28 and abs(box["width"] - box["height"]) < 2  # square cells, big enough
    difference = charts.nth(0)
    difference.scroll_into_view_if_needed()
    area = difference.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + area["width"] * 5.5 / 10, area["y"] + area["height"] * 6.5 / 10)  # true 6, said 5
    wait_for(lambda: page.get_by_text("with true digit 6, answered 5 by A or B").count(), timeout=60,
             what="the gallery filtered by the clicked cell")
    assert_no_exception(page)
    page.context.close()
