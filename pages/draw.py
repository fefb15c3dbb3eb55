"""Draw: sketch a digit and watch the three models' predictions side by side."""

import time

import streamlit as st
from streamlit_drawable_canvas import st_canvas  # registers its component: import only inside the app

from mnist_core.charts import probability_chart
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
from mnist_core.robustness import PERTURBATION_NAMES, get_perturbation, nudge
from mnist_core.runs import RunError
from pages.shared.audience import label_buttons
from pages.shared.frame import ensure_frame
from pages.shared.images import upscale
from pages.shared.loading import model_set_for, report_run_error
from pages.shared.markdown import literal
from pages.shared.perturbation_strip import show_strip
from pages.shared.pytorch_preload import import_pytorch_soon
from pages.shared.run_choice import all_runs, remember_choice, require_runs, run_label

CANVAS_SIZE = 280
# About a tenth of the canvas: after the shrink to a 20-pixel box, strokes are 2-3 pixels wide, as in MNIST.
BRUSH_WIDTH = 22
# name: (label, lowest, highest, default, step, format), as robustness.nudge takes them
NUDGE_SLIDERS = {
    "shift_x": ("Shift right (px)", -6, 6, 0, 1, "%+d"),
    "shift_y": ("Shift down (px)", -6, 6, 0, 1, "%+d"),
    "rotation": ("Turn anticlockwise (°)", -60, 60, 0, 5, "%+d°"),
    "scale": ("Scale (%)", 50, 150, 100, 5, "%d %%"),
    "thickness": ("Thicker strokes (px)", -2.0, 2.0, 0.0, 0.5, "%+.1f"),
}
NUDGE_DEFAULTS = {name: slider[3] for name, slider in NUDGE_SLIDERS.items()}
PROMPT = "Draw a digit (0–9) on the black canvas, large and centred. The predictions appear as you draw."

ensure_frame()
st.title("Draw a digit")

def choose_run(key: str) -> None:
    # A callback runs before the rerun, so the shared sidebar already shows the new choice;
    # the choice outlives the widget when the person visits other pages.
    remember_choice(key, st.session_state[f"draw.run.{key}"])


runs = require_runs()
with st.expander("Models in use", expanded=False):
    available = all_runs()[0]
    for column, (key, current) in zip(st.columns(len(runs)), runs.items()):
        labels = {str(run.path): run_label(run) for run in available if run.model_key == key}
        with column:
            st.selectbox(
                MODELS[key].name, list(labels), index=list(labels).index(str(current.path)),
                format_func=labels.get, key=f"draw.run.{key}", on_change=choose_run, args=(key,),
            )


def nudge_controls() -> dict[str, float]:
    """The "Nudge it" sliders: how to move, turn, scale and thicken the drawing before the models see it."""
    with st.expander("Nudge it", icon=":material/open_with:", key="draw.nudge"):
        values = {name: st.slider(label, low, high, default, step, key=f"draw.nudge.{name}", format=fmt)
                  for name, (label, low, high, default, step, fmt) in NUDGE_SLIDERS.items()}
        st.button("Reset nudges", on_click=reset_nudges, key="draw.nudge.reset", icon=":material/restart_alt:")
    return values


def reset_nudges() -> None:
    for name, (_, _, _, default, _, _) in NUDGE_SLIDERS.items():
        st.session_state[f"draw.nudge.{name}"] = default


def show_predictions(image, source: str, nudges: dict[str, float] | None = None) -> PreparedDigit | None:
    """Preprocess ``image`` (then nudge it), show what the models see and what they predict; return the digit."""
    try:
        digit = prepare_digit(image)
    except (NoDigitError, ImageReadError) as reason:
        st.info(PROMPT if source == "canvas" and "blank" in str(reason) else literal(reason), icon=":material/draw:")
        return None
    nudged = nudges is not None and nudges != NUDGE_DEFAULTS
    if nudged:
        digit = prepared_from_pixels(nudge(digit.pixels, **nudges))
    try:
        models = model_set_for(runs)
    except RunError as error:
        report_run_error(error)
        return None
    predictions = models.predict(digit.tensor)

    seen, verdict = st.columns([1, 3], vertical_alignment="center")
    with seen:
        caption = "What the models see, nudged" if nudged else "What the models see (28x28)"
        st.image(upscale(digit.image, 5), caption=caption, width=140)
    with verdict:
        agreed = agreement(predictions)
        if agreed is not None:
            st.success(f"All {len(predictions)} models agree: **{agreed}**")
        else:
            answers = ", ".join(f"{MODELS[k].name} {p.digit}" for k, p in predictions.items())
            st.warning(f"The models disagree: {answers}")

    for column, (key, prediction) in zip(st.columns(len(predictions)), predictions.items()):
        with column:
            st.metric(MODELS[key].name, prediction.digit, border=True,
                      help=f"{100 * prediction.confidence:.1f}% sure — {literal(runs[key].run_id)}")
            st.caption(f"{100 * prediction.confidence:.1f}% sure")
    figure = probability_chart({key: p.probabilities for key, p in predictions.items()}, height=300, top_margin=40)
    st.plotly_chart(figure, width="stretch", config={"displayModeBar": False}, key=f"probabilities.{source}")
    return digit


def sweep_my_drawing(digit: PreparedDigit) -> None:
    """Small multiples of the drawing under one perturbation, with the three answers under each."""
    panel = st.expander("Sweep my drawing", icon=":material/view_week:", key="draw.sweep", on_change="rerun")
    if not panel.open:  # tracked, so a closed panel costs nothing on each stroke
        return
    with panel:
        name = st.selectbox("Perturbation", PERTURBATION_NAMES, format_func=lambda n: get_perturbation(n).title,
                            key="draw.sweep.perturbation")
        st.caption(get_perturbation(name).explanation)
        show_strip(digit.pixels, name, model_set_for(runs))


@st.fragment
def drawing_area() -> None:
    # A fragment: each stroke reruns only this part of the page, which keeps it instant.
    started = time.perf_counter()
    canvas_column, result_column = st.columns([2, 3], gap="large")
    with canvas_column:
        canvas = st_canvas(
            stroke_width=BRUSH_WIDTH, stroke_color="#FFFFFF", background_color="#000000",
            width=CANVAS_SIZE, height=CANVAS_SIZE, drawing_mode="freedraw",
            return_image_data=True, key="draw.canvas",
        )
        nudges = nudge_controls()
    digit = None
    with result_column:
        image = canvas.image_data
        if image is None:
            st.info(PROMPT, icon=":material/draw:")
        else:
            digit = show_predictions(image, "canvas", nudges)
    if digit is not None:
        with result_column:
            label_buttons(image, runs)
        sweep_my_drawing(digit)
    with canvas_column:
        # Read by `python -m tools.bench_app` as the server-side time of one prediction rerun.
        st.caption(f"Undo, redo and clear are in the canvas toolbar. "
                   f"Server time for this update: {1000 * (time.perf_counter() - started):.0f} ms.")


drawing_tab, upload_tab = st.tabs(["Draw", "Upload a photo"])
with drawing_tab:
    drawing_area()
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

# The page is already on screen; load the models (PyTorch first, see import_pytorch_soon)
# and Plotly's figure machinery (0.2 s for the first figure) now, so the first stroke does not
# wait for them.
try:
    with st.spinner("Loading the models…"):
        import_pytorch_soon().join()
        model_set_for(runs)
        probability_chart({key: [0.1] * 10 for key in runs})
except RunError as error:
    report_run_error(error)
