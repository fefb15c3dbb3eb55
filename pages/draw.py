"""Draw: sketch a digit (or pick a test image) and watch the models' predictions side by side."""

import random
import time

import streamlit as st
from streamlit_drawable_canvas import st_canvas  # registers its component: import only inside the app

from dashboard.accessibility import announce, keep_focus_on_tabs, pen_only_toolbar
from dashboard.audience import label_buttons
from dashboard.images import upscale
from dashboard.loading import mnist_or_none, model_set_for, report_run_error
from dashboard.markdown import literal
from dashboard.nudge import NUDGE_DEFAULTS, nudge_controls, nudging, sweep_my_drawing
from dashboard.presenter import presenting
from dashboard.pytorch_preload import import_pytorch_soon
from dashboard.run_choice import (
    ENSEMBLE,
    all_runs,
    ensembles_in_use,
    remember_choice,
    require_runs,
    run_label,
    seed_group_of,
)
from dashboard.screen import WindowSize, window_size
from dashboard.url import drop_unreadable_number
from dashboard.why import why_panel
from mnist_core.canvas import BRUSH_WIDTH, CANVAS_SIDE
from mnist_core.charts import probability_chart
from mnist_core.label_issues import label_issues
from mnist_core.models import MODELS
from mnist_core.predict import agreement
from mnist_core.preprocess import (
    ImageReadError,
    NoDigitError,
    PreparedDigit,
    open_image,
    prepare_digit,
    prepared_from_pixels,
)
from mnist_core.robustness import nudge
from mnist_core.runs import RunError

# Projector mode on a tall screen (a 1080p projector): the canvas takes this share of the window's height,
# up to LARGEST_CANVAS, with the brush in proportion, so the digit the models see is the same.
TALL_SCREEN, CANVAS_SHARE, LARGEST_CANVAS = 900, 0.47, 640
PROJECTOR_SIDE_PADDING, SMALL_GAP = 100, 20  # px: projector mode's page margins (5rem), st.columns' small gap
LARGE_GAP = 100  # px: st.columns' large gap in projector mode, as measured (a 456-px column at 1440 px)
PROMPT = "Draw a digit (0–9) on the black canvas, large and centred. The predictions appear as you draw."
# A pen over a quarter of the digit's height fills loops in (docs/RESULTS.md, "Digits as people draw them"): said then.
DRAWN_SMALL = {
    "canvas": "Small for the pen: its loops may have filled in, which no MNIST digit has. "
              "Draw it larger, half the canvas tall or more.",
    "upload": "Thick strokes for the digit's size: its loops may have filled in. A larger or finer-lined "
              "digit reads better.",
}
TEST_INDEX_KEY = "draw.test_index"
NOT_SHOWN = ""  # "Models in use": a model not shown by default, left out

present = presenting()
if not present:  # on a projector the canvas, the answers and the chart must fit one screen
    st.title("Draw a digit")


def choose_run(key: str) -> None:
    # A callback runs before the rerun, so the shared sidebar already shows the new choice;
    # the choice outlives the widget when the person visits other pages.
    remember_choice(key, st.session_state[f"draw.run.{key}"])


def model_chooser() -> None:
    """Which run each model uses: chosen here, it holds on every page (Compare and Robustness point here).
    A model not shown by default takes part once a run of it is chosen. "Ensemble of N seeds" answers
    here with the seed group of the run in use (the other pages use that run)."""
    with st.expander("Models in use", expanded=False):
        available = all_runs()[0]
        trained = [key for key in MODELS if any(run.model_key == key for run in available)]
        for column, key in zip(st.columns(len(trained)), trained):
            labels = {str(run.path): run_label(run) for run in available if run.model_key == key}
            if not MODELS[key].shown_by_default:
                labels = {NOT_SHOWN: "not shown", **labels}
            group = seed_group_of(runs[key]) if key in runs else None
            if group is not None and len(group.runs) > 1:
                labels[ENSEMBLE] = f"{MODELS[key].name} · ensemble of {len(group.runs)} seeds"
            current = ENSEMBLE if key in ensembles else str(runs[key].path) if key in runs else NOT_SHOWN
            with column:
                st.selectbox(
                    MODELS[key].name, list(labels), index=list(labels).index(current),
                    format_func=labels.get, key=f"draw.run.{key}", on_change=choose_run, args=(key,),
                )
        if ensembles:
            st.caption("An ensemble answers with the mean of its seeds' probabilities (each seed: the same settings "
                       "trained from another random start) on this page only; the other pages use the run chosen "
                       "before it.")


def model_name(key: str, short: bool = False) -> str:
    """A model as its answer is titled: "CNN", or "CNN × 5 seeds" when its seeds answer together ("CNN ×5" if
    ``short``: a projector's answer has 120 px for its title at 1280x720, and "CNN × 5 se…" named no ensemble)."""
    if key not in ensembles:
        return MODELS[key].name
    return MODELS[key].name + (f" ×{len(ensembles[key].runs)}" if short else f" × {len(ensembles[key].runs)} seeds")


runs = require_runs()
ensembles = ensembles_in_use(runs)
if not present:
    model_chooser()


def show_predictions(image, source: str, nudges: dict[str, float] | None = None,
                     beside=None, scale: float = 1.0) -> PreparedDigit | None:
    """Preprocess ``image`` (then nudge it), show what the models see and what they predict; return the digit.

    In projector mode "what the models see" goes into ``beside`` (under the canvas), so the
    answers and the chart fit one screen; the chart grows by ``scale`` with a grown canvas.
    """
    try:
        digit = prepare_digit(image)
    except (NoDigitError, ImageReadError) as reason:
        st.info(PROMPT if source == "canvas" and "blank" in str(reason) else literal(reason), icon=":material/draw:")
        return None
    drawn_small = digit.drawn_small and source in DRAWN_SMALL  # measured on the drawing, before any nudge
    nudged = nudges is not None and nudges != NUDGE_DEFAULTS
    if nudged:
        digit = prepared_from_pixels(nudge(digit.pixels, **nudges))
    try:
        models = model_set_for(runs, ensembles)
    except RunError as error:
        report_run_error(error)
        return None
    predictions = models.predict(digit.tensor)

    compact = present and beside is not None
    with beside if compact else st.container():
        # The verdict's share of the row: beside the canvas the result column is narrow, under it
        # (projector mode) narrower still; a test image or a photo has the page's width.
        verdict_share = 2 if compact else 3 if source == "canvas" else 6
        seen, verdict = st.columns([1, verdict_share], vertical_alignment="center")
        # Under a 100-px preview (projector mode) "(28x28)" made the caption a third line.
        caption = "What the models see" + (", nudged" if nudged else "" if compact else " (28x28)")
        # As wide as its column (107 px at 1280x720): a fixed 140 px ran under the verdict beside it.
        seen.image(upscale(digit.image, 5), caption=caption, width=100 if compact else "stretch",
                   alt="The digit as the models see it: 28x28 pixels, white on black" + (", nudged" if nudged else ""))
        agreed = agreement(predictions)
        if agreed is not None:
            verdict.success(f"All {len(predictions)} models agree: **{agreed}**")
        else:
            answers = ", ".join(f"{model_name(k)} {p.digit}" for k, p in predictions.items())
            verdict.warning(f"The models disagree: {answers}")
        if drawn_small:  # on a projector, beside the canvas, only the advice fits
            verdict.info("Small for the pen: draw it larger." if compact else DRAWN_SMALL[source],
                         icon=":material/zoom_in:")

    for column, (key, prediction) in zip(st.columns(len(predictions)), predictions.items()):
        # The key gives the answer its model's colour; it names the source too, as the Draw tab's
        # answers stay on the page while another tab shows its own.
        with column, st.container(key=f"answer_{key}_{source}"):
            used = (f"the mean of {len(ensembles[key].runs)} seeds' probabilities" if key in ensembles
                    else literal(runs[key].run_id))
            st.metric(model_name(key, short=present), prediction.digit, border=True,
                      help=f"{100 * prediction.confidence:.1f}% sure — {used}")
            st.caption(f"{100 * prediction.confidence:.1f}% sure")
    # The verdict above is an alert, read out as it appears; each model's answer is read out here.
    announce("Answers: " + "; ".join(f"{model_name(k)} {p.digit}, {100 * p.confidence:.0f}% sure"
                                     for k, p in predictions.items()) + ".", key=f"answers.{source}")
    # In projector mode at 1280x720 the label buttons must fit under the chart without scrolling.
    figure = probability_chart({key: p.probabilities for key, p in predictions.items()},
                               height=round(200 * scale) if present else 300, top_margin=40,
                               font_size=20 if present else None,
                               names={key: model_name(key, short=present) for key in predictions})
    st.plotly_chart(figure, width="stretch", config={"displayModeBar": False}, key=f"probabilities.{source}")
    return digit


def canvas_size(window: WindowSize | None) -> int:
    """The canvas's side in px: CANVAS_SIDE, or in projector mode on a tall screen its share of the window, within
    its column (2 of 5 parts; wider, the canvas scrolled sideways in it, at 1440x1000)."""
    if window is None or window.height < TALL_SCREEN:
        return CANVAS_SIDE
    column = 0.4 * (window.width - 2 * PROJECTOR_SIDE_PADDING - LARGE_GAP)
    return max(CANVAS_SIDE, min(LARGEST_CANVAS, round(CANVAS_SHARE * window.height), int(column) - 10))


def nudge_layout(window: WindowSize | None, size: int) -> list[float]:
    """Projector mode's column widths with "Nudge it" open: the canvas's column exactly as wide as the
    canvas (narrower squeezed the canvas, and a stroke's scale with it), the sliders' column in proportion
    to it, the answers the rest. Widths in px, from the window's (1280 px if not yet known)."""
    content = (window.width if window is not None else 1280) - 2 * PROJECTOR_SIDE_PADDING
    canvas_column, sliders = size + 10, 260 * size / CANVAS_SIDE
    return [canvas_column, sliders, max(content - canvas_column - sliders - 2 * SMALL_GAP, sliders)]


@st.fragment
def drawing_area() -> None:
    # A fragment: each stroke reruns only this part of the page, which keeps it instant.
    started = time.perf_counter()
    window = window_size("draw.window") if present else None
    size = canvas_size(window)
    if present and nudging():
        # Open "Nudge it" sliders get a column between the canvas and the answers: under the canvas
        # they were below a 720-px screen's fold, and a slider is moved while the answers are watched.
        canvas_column, nudge_column, result_column = st.columns(nudge_layout(window, size), gap="small")
    else:
        canvas_column, result_column = st.columns([2, 3], gap="large")
        nudge_column = canvas_column
    with canvas_column:
        canvas = st_canvas(
            stroke_width=round(BRUSH_WIDTH * size / CANVAS_SIDE), stroke_color="#FFFFFF", background_color="#000000",
            width=size, height=size, drawing_mode="freedraw",
            return_image_data=True, key="draw.canvas",
        )
        pen_only_toolbar("draw.canvas")
        beside = st.container()
    with nudge_column:
        nudges = nudge_controls()
    digit = None
    with result_column:
        image = canvas.image_data
        if image is None:
            st.info(PROMPT, icon=":material/draw:")
        else:
            digit = show_predictions(image, "canvas", nudges, beside, scale=size / CANVAS_SIDE)
            if digit is not None:
                label_buttons(image, runs, ensembles)
    if digit is not None:
        why_panel(digit.tensor, digit.pixels, runs, "draw", ensembles)
        sweep_my_drawing(digit, model_set_for(runs, ensembles))
    with canvas_column:
        # Read by `python -m tools.bench_app` as the server-side time of one prediction rerun; said only
        # for a prediction (an empty canvas's number only puzzled people).
        timing = (f" Server time for this update: {1000 * (time.perf_counter() - started):.0f} ms."
                  if digit is not None else "")
        st.caption("Undo, redo and clear are in the canvas toolbar." + timing)


def pick_digit() -> None:
    """"Show me a 7": a random test image of the chosen digit."""
    wanted = st.session_state.get("draw.test_digit")
    data = mnist_or_none()[0]
    if wanted is None or data is None:
        return
    candidates = (data.test_labels == int(wanted)).nonzero().flatten().tolist()
    st.session_state[TEST_INDEX_KEY] = random.choice(candidates)


def pick_random() -> None:
    data = mnist_or_none()[0]
    if data is not None:
        st.session_state[TEST_INDEX_KEY] = random.randrange(len(data.test_labels))


def test_image_picker() -> None:
    """A test image through the same path as a drawing: no mouse needed."""
    data, message = mnist_or_none()
    if data is None:
        st.info(f"Test images need the data set. {message}")
        return
    pick, index_column, again = st.columns([3, 2, 1], vertical_alignment="bottom")
    pick.segmented_control("Show me a…", list(range(10)), key="draw.test_digit", on_change=pick_digit,
                           wrap=True)  # in a column it would scroll sideways, hiding the 9 at 1280x720
    drop_unreadable_number(TEST_INDEX_KEY)
    if TEST_INDEX_KEY not in st.query_params:  # no value= beside the callbacks that set it: Streamlit warns of both
        st.session_state.setdefault(TEST_INDEX_KEY, 0)
    index = index_column.number_input("Test image #", min_value=0, max_value=len(data.test_labels) - 1,
                                      step=1, key=TEST_INDEX_KEY, bind="query-params")
    again.button("Random", on_click=pick_random, key="draw.test_random", icon=":material/casino:")
    label = int(data.test_labels[int(index)])
    note = label_issues().note(int(index))
    st.caption(f"Test image #{int(index):,}, labelled **{label}**" + (f" — ⚠ {literal(note)}" if note else ""))
    show_predictions(data.test_images[int(index)].numpy(), "test")


keep_focus_on_tabs()
# Tracked tabs (kept in the URL): only the open one's content runs, so the Draw tab does not
# wait for MNIST to load for the test images.
drawing_tab, test_tab, upload_tab = st.tabs(["Draw", "Test image", "Upload a photo"], key="draw.tab",
                                            on_change="rerun", bind="query-params")
with drawing_tab:
    drawing_area()  # always: the canvas keeps its drawing while another tab is open
if test_tab.open:
    with test_tab:
        test_image_picker()
if upload_tab.open:
    with upload_tab:
        upload = st.file_uploader("A photo or scan of one handwritten digit (PNG, JPEG, …)",
                              type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"])
        if upload is not None:
            try:
                picture = open_image(upload.getvalue())
            except ImageReadError as reason:
                st.error(f"Cannot use {literal(upload.name)}: {literal(reason)}")
            else:
                show_predictions(picture, "upload")

if present:  # under the screen that must fit, but there: the models change without leaving the mode
    model_chooser()

# The page is already on screen; load the models (PyTorch first, see import_pytorch_soon)
# and Plotly's figure machinery (0.2 s for the first figure) now, so the first stroke does not
# wait for them.
try:
    with st.spinner("Loading the models…"):
        import_pytorch_soon().join()
        model_set_for(runs, ensembles)
        probability_chart({key: [0.1] * 10 for key in runs})
except RunError as error:
    report_run_error(error)
