"""The real thing: `streamlit run app.py` driven by Playwright in headless Chromium.

Draws with the mouse on the canvas and reads the models' `st.metric`s. In CI these tests
must run: a missing Chromium fails them instead of skipping.
"""

from __future__ import annotations

import math
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard.markdown import counted
from tests.support.mnist_files import real_data_root_or_none
from tools.browser import (
    canvas_box,
    metric_values,
    streamlit_server,
    stroke,
    vertical_stroke,
    wait_for,
    wait_until_idle,
)

pytestmark = pytest.mark.browser
PAGES = {"/": "MNIST model comparison", "/train": "Train models", "/compare": "Compare runs",
         "/robustness": "Robustness", "/draw": "Draw a digit", "/audience": "Audience"}


@pytest.fixture(scope="module")
def audience_path(tmp_path_factory):
    return tmp_path_factory.mktemp("audience") / "audience.sqlite3"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, audience_path):
    env = {"MNIST_RUNS_DIR": str(tmp_path_factory.mktemp("runs")), "MNIST_AUDIENCE_DB": str(audience_path),
           "MNIST_WARM_UP": "1"}  # as a presenter's server: the Why? test finds the nearest images ready
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
    # The line below the answers may arrive a moment after them on a busy server
    wait_for(lambda: page.get_by_text("All 3 models agree").count() == 1, timeout=30, what="the models agreeing")
    assert page.get_by_text("Small for the pen").count() == 0  # 190 px tall: no hint to draw larger
    assert_no_exception(page)


def test_a_digit_drawn_small_for_the_pen_is_told_to_draw_it_larger(app_url, page):
    page.goto(f"{app_url}/draw")
    box = canvas_box(page)
    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # A 0 about 45 px tall with the 22 px brush: its hole is nearly closed.
    loop = [(centre_x + 10 * math.sin(2 * math.pi * i / 32), centre_y - 12 * math.cos(2 * math.pi * i / 32))
            for i in range(35)]
    stroke(page, loop)
    wait_for(lambda: len(metric_values(page)) == 3, what="3 predictions")
    wait_for(lambda: page.get_by_text("Small for the pen").count(), what="the hint to draw it larger")
    assert_no_exception(page)


def test_a_test_image_after_a_drawing(app_url, page):
    """Both tabs show answers at once (the canvas keeps its drawing): each under its own keys."""
    if real_data_root_or_none() is None:
        pytest.skip("test images need the data set")
    page.goto(f"{app_url}/draw")
    stroke(page, vertical_stroke(canvas_box(page)))
    wait_for(lambda: metric_values(page) == ["1", "1", "1"], what="three 1s")
    page.get_by_role("tab", name="Test image").click()
    wait_for(lambda: page.get_by_text("Test image #0, labelled").count(), timeout=60, what="test image #0")
    wait_for(lambda: page.locator('[data-testid="stMetricValue"]:visible').count() == 3, what="its 3 answers")
    assert_no_exception(page)
    assert [v.inner_text().strip() for v in page.locator('[data-testid="stMetricValue"]:visible').all()] == ["7"] * 3


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
    wait_for(lambda: page.locator("img[alt='unchanged']").count() == 1, timeout=30, what="the unchanged drawing")
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
    heading = f"{counted(before + 1, 'drawing')} from"
    wait_for(lambda: page.get_by_text(heading).count(), what="the audience's count")
    assert_no_exception(page)
    # On a projector (the sidebar's toggle, at 1280x720) a latecomer finds the QR code and the scores on the first
    # screen: the code filled it before (337 px), the scores' top was at 991 px.
    to_a_projector(page)
    page.evaluate("window.scrollTo(0, 0); document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    code = page.locator("img[alt^='QR code']").bounding_box()
    assert 200 <= code["width"] and code["y"] + code["height"] <= 720, code  # scanned across a room
    scores = [score.bounding_box() for score in page.locator('[data-testid="stMetric"]').all()]
    assert len(scores) == 3 and all(box["y"] + box["height"] <= 720 for box in scores), scores
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
    charts = page.locator('[data-testid="stPlotlyChart"]')
    wait_for(lambda: charts.count() == 6, timeout=60, what="six charts")  # none left to load above and move it
    heatmap = charts.nth(2)  # the first run's matrix (after B − A, curves)
    heatmap.scroll_into_view_if_needed()
    area = heatmap.locator(".nsewdrag").first
    area.wait_for(timeout=30_000)

    def mistakes_shown() -> int:
        return (page.get_by_text("test images of a 7 were predicted as 2").count()
                or page.get_by_text("No chosen run mistakes a 7 for a 2").count())

    for attempt in range(3):  # a click during a rerun (the window's size reported, a chart redrawn) can be lost
        wait_until_idle(page)  # the page has settled: the box is where the cell is, and a click is not dropped
        if mistakes_shown():  # an earlier click's rerun has ended with them
            break
        box = area.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 2.5 / 10, box["y"] + box["height"] * 7.5 / 10)  # true 7, pred. 2
        try:
            wait_for(mistakes_shown, timeout=15, what="the mistakes of 7 → 2")
            break
        except TimeoutError:
            if attempt == 2:
                raise
    assert_no_exception(page)


def box_of(locator) -> dict | None:
    """The element's box, or None while it is being redrawn."""
    try:
        return locator.bounding_box(timeout=2_000)
    except (PlaywrightError, PlaywrightTimeout):
        return None


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


@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_projector_mode_matrices_are_readable_from_the_back_and_fit_one_screen(app_url, browser, real_data_root,
                                                                               width, height):
    """Every count on B − A and the confusion matrices at least 18 px, each matrix under the screen's height,
    a four-digit count inside its cell; on a 1080p screen the matrices grow (600 px at 720p)."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{app_url}/compare?present=1")
    charts = page.locator('[data-testid="stPlotlyChart"]')
    wait_for(lambda: charts.count() == 6, timeout=90, what="six charts")
    expected = 600 if height < 900 else 0.8 * height
    for index in (0, 2, 3, 4):  # B − A and the three confusion matrices
        chart = charts.nth(index)
        # Sized first: on a tall screen the matrices grow once the browser has told its size (a rerun, during
        # which a chart is redrawn: Playwright's own scrolling waits for a stable element, and timed out).
        wait_for(lambda: abs((box_of(chart) or {"height": 0})["height"] - expected) < 2, timeout=30,
                 what="the matrix's size")
        chart.evaluate("chart => chart.scrollIntoView({block: 'center'})")
        wait_for(lambda: chart.locator("g.heatmap-label text").count() > 10, timeout=30, what="the counts")
        sizes = chart.locator("g.heatmap-label text").evaluate_all(
            "texts => texts.map(text => parseFloat(getComputedStyle(text).fontSize))")
        assert min(sizes) >= 18, sizes
        cell = chart.locator(".nsewdrag").first.bounding_box()["width"] / 10
        widest = max(chart.locator("g.heatmap-label text").evaluate_all(
            "texts => texts.map(text => text.getBBox().width)"))
        assert widest < cell, (widest, cell)
    assert_no_exception(page)
    page.context.close()


def assert_nudge_sliders_beside_the_answers(page, height: int) -> None:
    """Open "Nudge it" in projector mode: its sliders move into a column between the canvas and the answers,
    all on screen with "Reset nudges", so a presenter moves one and watches the answers change; the drawing
    stays."""
    answers_before = metric_values(page)
    page.get_by_text("Nudge it", exact=True).click()
    sliders = page.locator('[data-testid="stSlider"]')
    wait_for(lambda: sliders.count() == 5, what="the five nudge sliders")
    wait_until_idle(page)  # opening it reruns the page: measure what the rerun left, not what it replaces
    page.evaluate("window.scrollTo(0, 0); document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    time.sleep(1)
    canvas = canvas_box(page)
    answers = wait_for(lambda: page.locator('[data-testid="stMetric"]').first.bounding_box(), what="the answers")
    for slider in sliders.all():
        box = wait_for(slider.bounding_box, what="a nudge slider on screen")
        assert canvas["x"] + canvas["width"] <= box["x"] and box["x"] + box["width"] <= answers["x"], (box, answers)
        assert 0 <= box["y"] and box["y"] + box["height"] <= height, box
    reset = page.get_by_role("button", name="Reset nudges").bounding_box()
    assert reset["y"] + reset["height"] <= height, reset  # at 1280x720 it was 67 px below the screen's edge
    assert metric_values(page) == answers_before  # the drawing survived the new layout


def type_sizes(page) -> dict[str, float]:
    """Font sizes in px of what projector mode grows with the screen: the page bar's links, the tabs, the sliders'
    labels (0 while none is shown) and the "What did you draw?" digits."""
    selectors = {"page bar": '[data-testid="stTopNavLink"] p', "tabs": '[data-testid="stTab"] p',
                 "sliders": '[data-testid="stSlider"] [data-testid="stWidgetLabel"] p',
                 "digits": ".st-key-audience_label_0 button p"}
    return page.evaluate("""selectors => Object.fromEntries(Object.entries(selectors).map(([name, selector]) => {
        const element = document.querySelector(selector);
        return [name, element ? parseFloat(getComputedStyle(element).fontSize) : 0]; }))""", selectors)


def test_projector_mode_fits_the_canvas_answers_chart_and_labels_on_a_1280x720_screen(app_url, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    page.goto(f"{app_url}/draw?present=1")
    stroke(page, vertical_stroke(canvas_box(page)))
    wait_for(lambda: metric_values(page) == ["1", "1", "1"], what="three 1s")
    page.evaluate("window.scrollTo(0, 0); document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    time.sleep(0.5)
    parts = [page.locator("canvas.upper-canvas"), *page.locator('[data-testid="stMetricValue"]').all(),
             page.locator('[data-testid="stPlotlyChart"]').first,
             *(page.locator(f".st-key-audience_label_{digit} button") for digit in (0, 9))]  # "What did you draw?"
    for part in parts:
        box = part.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 720 and box["x"] + box["width"] <= 1280, box
    assert page.locator('[data-testid="stSidebar"]').bounding_box()["width"] == 0  # the sidebar is hidden
    sizes = page.evaluate("""() => ['[data-testid="stMetricLabel"] p', '[data-testid="stMetricValue"]']
        .map(selector => parseFloat(getComputedStyle(document.querySelector(selector)).fontSize))""")
    assert sizes[0] >= 20 and sizes[1] >= 60, sizes  # labels from the back of the room; answers much larger
    typed = type_sizes(page)
    assert typed["digits"] >= 30, typed  # the ten "What did you draw?" digits, one row (17.5 px before)
    assert typed["page bar"] >= 17.5 and typed["tabs"] >= 17.5, typed
    assert "present=1" in page.url
    page.locator(".st-key-audience_label_1 button").click()  # the thanks on screen, the mode's type kept
    thanks = page.get_by_text("Stored as a 1").first
    wait_for(lambda: thanks.count() and thanks.is_visible(), what="the thanks")
    assert thanks.bounding_box()["y"] + thanks.bounding_box()["height"] <= 720
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "20px"
    assert_nudge_sliders_beside_the_answers(page, 720)
    assert_no_exception(page)
    page.context.close()


def test_projector_mode_grows_the_canvas_with_a_1080p_screen_and_the_models_see_the_same_digit(app_url, browser):
    """Almost half the screen's height at 1920x1080 (280 px was 26 %), the brush in proportion: a 1 drawn
    through its middle is still read as a 1 by all three."""
    page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    page.goto(f"{app_url}/draw?present=1")
    canvas_box(page)
    wait_for(lambda: canvas_box(page)["height"] >= 0.45 * 1080, what="the canvas to grow with the screen")
    box = canvas_box(page)
    assert box["y"] + box["height"] <= 1080 and abs(box["width"] - box["height"]) < 1
    stroke(page, vertical_stroke(box))
    wait_for(lambda: metric_values(page) == ["1", "1", "1"], timeout=60, what="three 1s")
    assert page.locator(".st-key-audience_label_9 button").bounding_box()["y"] < 1080  # all on one screen
    # The answers and the probability chart grow with the canvas (at 1280x720: 84-px digits, a 200-px chart).
    answer_size = page.evaluate("""parseFloat(getComputedStyle(
        document.querySelector('[data-testid="stMetricValue"]')).fontSize)""")
    assert answer_size >= 110, answer_size
    assert page.locator('[data-testid="stPlotlyChart"]').first.bounding_box()["height"] >= 1.6 * 200
    assert_nudge_sliders_beside_the_answers(page, 1080)
    # The page bar, tabs and sliders grow with the screen too (17.5 px at 720 px; they stayed 17.5 at 1080).
    typed = type_sizes(page)
    assert min(typed["page bar"], typed["tabs"], typed["sliders"]) >= 24 and typed["digits"] >= 40, typed
    assert_no_exception(page)
    page.context.close()


def background_lightness(page) -> float | None:
    """The app's background colour as lightness from 0 (black) to 1 (white); None while the page reloads."""
    try:
        red, green, blue = page.evaluate("""getComputedStyle(document.querySelector('[data-testid="stApp"]'))
            .backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)""")
    except PlaywrightError:  # the theme switch reloads the page
        return None
    return (red + green + blue) / (3 * 255)


@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_a_dark_room_shows_the_dark_theme_with_the_charts_following_and_light_switches_back(  # and the legend
        app_url, browser, real_data_root, width, height):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{app_url}/compare?present=1&room=dark")
    wait_for(lambda: (background_lightness(page) or 1) < 0.2, timeout=60, what="the dark theme")
    chart = page.locator(".st-key-compare-curves")
    chart.locator(".legend").wait_for(timeout=90_000)
    chart.scroll_into_view_if_needed()
    title, legend = chart.locator(".xtitle").bounding_box(), chart.locator(".legend").bounding_box()
    assert title["y"] + title["height"] <= legend["y"], (title, legend)  # the legend clear of "epoch"
    tick = chart.locator("g.xtick text").first.evaluate("text => getComputedStyle(text).fill")
    assert sum(map(int, tick[tick.index("(") + 1 : -1].split(",")[:3])) > 3 * 200, tick  # light tick labels
    assert chart.locator("rect.bg").first.evaluate("rect => getComputedStyle(rect).fillOpacity") == "0"
    expand = page.locator('[data-testid="stExpandSidebarButton"]')  # the choice is in the sidebar
    light = page.locator('[data-testid="stSidebar"] button', has_text="Light")
    for attempt in range(3):  # a click during a rerun (the sidebar opening, a chart drawn) can be lost
        wait_until_idle(page)
        # An earlier click was taken (the address read from the page: Playwright's page.url lags a reload's).
        if (background_lightness(page) or 0) > 0.9 or "room=dark" not in page.evaluate("location.href"):
            break
        if expand.is_visible():  # still closed: the click that opens it was lost, or none yet
            expand.click()
        try:
            light.click(timeout=20_000)
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            continue
        try:
            wait_for(lambda: (background_lightness(page) or 0) > 0.9, timeout=20, what="the light theme again")
            break
        except TimeoutError:
            if attempt == 2:
                raise
    wait_for(lambda: (background_lightness(page) or 0) > 0.9, timeout=60, what="the light theme again")
    wait_for(lambda: "room=dark" not in page.evaluate("location.href"), what="room=dark gone from the address")
    assert_no_exception(page)
    page.context.close()


def test_changing_the_view_puts_it_in_the_url_and_the_link_opens_it_again(app_url, page, real_data_root):
    page.goto(f"{app_url}/robustness")
    page.get_by_role("heading", name="Occlusion").wait_for(timeout=90_000)
    page.get_by_role("combobox", name="Perturbation").click()
    page.get_by_role("option", name="Rotation").click()
    wait_for(lambda: "robustness.perturbation=Rotation" in page.url, what="the perturbation in the URL")
    link = page.url
    other = page.context.browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    other.goto(link)
    other.get_by_role("heading", name="Rotation").wait_for(timeout=90_000)
    wait_for(lambda: other.get_by_role("heading", name="Occlusion").count() == 0, what="only the linked view")
    assert_no_exception(other)
    other.context.close()


def test_a_test_image_without_a_mouse(app_url, page, real_data_root):
    page.goto(f"{app_url}/draw")
    canvas_box(page)
    for _ in range(60):  # Tab through the page to the tabs, then the arrow key to "Test image"
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.getAttribute('role')") == "tab":
            break
    else:
        pytest.fail("the page's tabs cannot be reached with the Tab key")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    index = page.get_by_label("Test image #")
    index.wait_for(timeout=60_000)
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.getAttribute('aria-label')") == \
                "Test image #":
            break
    else:
        pytest.fail("the test image number cannot be reached with the Tab key")
    page.keyboard.press("Control+A")
    page.keyboard.type("42")
    page.keyboard.press("Enter")
    wait_for(lambda: page.get_by_text("Test image #42, labelled 4").count(), timeout=60, what="test image 42")
    wait_for(lambda: metric_values(page) == ["4", "4", "4"], what="three 4s")
    assert "draw.test_index=42" in page.url
    assert_no_exception(page)


def test_drawing_with_a_finger_on_a_phone_sized_screen(app_url, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{app_url}/draw")
    box = canvas_box(page)
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # the canvas fits the screen
    touch = context.new_cdp_session(page)
    points = vertical_stroke(box)
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0],
                                                                                  "y": points[0][1]}]})
    for x, y in points[1:]:
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_for(lambda: metric_values(page) == ["1", "1", "1"], timeout=60, what="three 1s from a finger")
    assert_no_exception(page)
    context.close()


def test_the_why_panel_shows_three_maps_and_the_nearest_training_images(app_url, page, real_data_root):
    page.goto(f"{app_url}/draw")
    stroke(page, vertical_stroke(canvas_box(page)))
    wait_for(lambda: metric_values(page) == ["1", "1", "1"], what="three 1s")
    page.get_by_text("Why? What the models look at").click()
    maps = page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator("g.heatmaplayer"))
    wait_for(lambda: maps.count() == 1 and maps.first.locator("g.heatmaplayer image, g.hm image").count() >= 3,
             timeout=60, what="three attribution maps")
    titles = " ".join(maps.first.locator("text").evaluate_all("texts => texts.map(t => t.textContent)"))
    assert "MLP: 1" in titles and "CNN: 1" in titles and "LeNet-5: 1" in titles
    wait_for(lambda: page.locator("img[alt^='a 1 ·']").count() >= 3, timeout=120,
             what="nearest training images labelled 1")
    page.get_by_text("Sanity check: randomised weights").click()
    wait_for(lambda: "weights randomised" in " ".join(
        maps.first.locator("text").evaluate_all("texts => texts.map(t => t.textContent)")), timeout=60,
        what="the randomised models' maps")
    assert_no_exception(page)


def test_seed_groups_on_the_overview_compare_and_draw(app_url, page, real_data_root):
    """The verdict from the seed groups, the strip plot with the ensembles, the seeds' band on Compare, and
    a seed ensemble answering on Draw."""
    page.goto(app_url)
    wait_for(lambda: page.get_by_text("LeNet-5 and CNN are level within seed noise; both beat MLP").count(),
             timeout=60, what="the verdict from the seed groups")
    wait_for(lambda: page.get_by_text("◆ their ensemble").count(), timeout=90,
             what="the ensembles measured")
    strip = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="test accuracy (%)")
    wait_for(lambda: strip.locator("path.point").count() >= 3 * (5 + 1 + 1), what="15 seeds, 3 means, 3 ensembles")
    assert_no_exception(page)

    page.goto(f"{app_url}/compare")
    wait_for(lambda: page.get_by_text("Across seeds: architecture or luck?").count(), timeout=60, what="Compare")
    curves = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="per epoch")
    wait_for(lambda: curves.get_by_text("LeNet-5 · mean of 5 seeds").count() > 0, timeout=60,
             what="LeNet-5's seeds as a mean and band")
    wait_for(lambda: curves.first.locator("path.js-fill").count() >= 3, timeout=30, what="a band for each model")
    assert_no_exception(page)

    page.goto(f"{app_url}/draw")
    canvas_box(page)
    page.get_by_text("Models in use").click()
    chooser = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("CNN", exact=True))
    chooser.wait_for()
    ensemble = page.get_by_role("option", name="CNN · ensemble of 5 seeds")
    for attempt in range(5):  # the list opens once the page has settled (slow beside the whole suite), and a
        chooser.click()        # rerun meanwhile (the window's size reported) can close it under the click
        try:
            ensemble.wait_for(timeout=10_000)
            ensemble.click(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 4:
                raise
            page.keyboard.press("Escape")
    wait_for(lambda: page.get_by_text("on this page only; the other pages use the run chosen before it").count(),
             what="the ensemble chosen")
    stroke(page, vertical_stroke(canvas_box(page)))  # where the canvas is now, under the longer chooser
    wait_for(lambda: metric_values(page) == ["1", "1", "1"], timeout=60, what="three 1s")
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    assert any("CNN × 5 seeds" in label for label in labels), labels
    wait_for(lambda: "CNN × 5 seeds" in legend_names(page), what="the chart's legend naming the ensemble too")
    assert_no_exception(page)

    # On a projector (the sidebar's toggle, at 1280x720; the choice stays) its title is whole beside the other two,
    # with "Nudge it" open too (it was cut to "CNN × 5 se…", the legend said "CNN").
    to_a_projector(page)
    stroke(page, vertical_stroke(canvas_box(page)))  # the canvas moved; a drawing kept is drawn over alike
    titles = page.locator('[data-testid="stMetricLabel"]')
    wait_for(lambda: "CNN ×5" in titles.all_inner_texts() and metric_values(page) == ["1", "1", "1"],
             timeout=60, what="the ensemble's answer on a projector")
    wait_for(lambda: "CNN ×5" in legend_names(page), what="the chart's legend naming it alike")
    assert cut_titles(page) == []
    page.get_by_text("Nudge it", exact=True).click()
    wait_for(lambda: page.locator('[data-testid="stSlider"]').count() == 5, what="the five nudge sliders")
    # The answers are drawn again when the panel opens (and again once the window's size is reported): wait for the
    # titles to be back rather than reading them mid-rerun.
    wait_for(lambda: "CNN ×5" in titles.all_inner_texts() and cut_titles(page) == [], timeout=60,
             what="the ensemble's whole title with Nudge open")
    assert_no_exception(page)


def to_a_projector(page) -> None:
    """This session into projector mode at 1280x720, by the sidebar's toggle: a new page would be a new session,
    without the choices made in this one."""
    page.set_viewport_size({"width": 1280, "height": 720})
    wait_until_idle(page)
    toggle = page.locator('[data-testid="stSidebar"] [data-testid="stCheckbox"]').filter(
        has=page.get_by_role("switch", name="Projector mode"))
    toggle.locator("label").click()
    # Asked of the page: Playwright's page.url follows the address only while a call of it runs.
    wait_for(lambda: "present=1" in page.evaluate("location.search"), what="projector mode")
    wait_until_idle(page)


def legend_names(page) -> list[str]:
    """The models named in the Draw page's probability chart."""
    return page.locator(".st-key-probabilities-canvas .legendtext").evaluate_all(
        "texts => texts.map(text => text.textContent)")


def cut_titles(page) -> list[str]:
    """The answers' titles cut short with an ellipsis (wider than their box)."""
    return page.locator('[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]').evaluate_all(
        "titles => titles.filter(title => title.scrollWidth > title.clientWidth).map(title => title.textContent)")
