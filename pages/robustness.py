"""Robustness: how the models differ when digits are shifted, rotated, scaled, thickened, noisy or hidden."""

import streamlit as st

from dashboard.hard_set import CAVEAT, hard_set, predictions
from dashboard.loading import mnist_or_none, model_set_for, report_run_error, robustness_sweep
from dashboard.markdown import literal
from dashboard.perturbation_strip import show_strip
from dashboard.presenter import for_the_room
from dashboard.run_choice import require_runs, short_label
from dashboard.url import drop_unreadable_number
from mnist_core.charts import robustness_chart
from mnist_core.comparison import accuracy_interval
from mnist_core.game import hard_set_sentence
from mnist_core.models import MODELS
from mnist_core.recipes import MAX_SEED
from mnist_core.robustness import DEFAULT_IMAGES, PERTURBATIONS, headline, summary_sentence
from mnist_core.runs import RunError

IMAGE_COUNTS = {500: "500", 1000: "1,000", DEFAULT_IMAGES: f"{DEFAULT_IMAGES:,} (default)", 5000: "5,000",
                None: "all 10,000"}
ALL = "all"

st.title("Robustness")
st.caption("On clean test digits the models are a few tenths of a percent apart. Change the digits and "
           "their real difference shows: every model sees the same shifted, rotated, scaled, thickened, noisy "
           "or partly hidden test images, level by level.")

runs = require_runs()
data, data_message = mnist_or_none()
if data is None:
    st.info(f"The robustness sweep needs the test images. {data_message}")
    st.stop()

settings = st.columns([2, 1, 3], vertical_alignment="bottom")
count = settings[0].selectbox("Test images", list(IMAGE_COUNTS), index=list(IMAGE_COUNTS).index(DEFAULT_IMAGES),
                              format_func=IMAGE_COUNTS.get, key="robustness.images",
                              help="Drawn at random from the 10,000 test images with the seed.")
seed = settings[1].number_input("Seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key="robustness.seed",
                                help="Picks the test images, the noise and where the squares hide the digit.")
with settings[2]:
    st.caption("Models in use (choose them on the Draw page): "
               + ", ".join(short_label(run) for run in runs.values()) + ".")

progress = st.empty()


def show_progress(done: int, total: int) -> None:
    progress.progress(done / total, text=f"Sweeping: {done} of {total} levels, {len(runs)} models each…")


try:
    sweep = robustness_sweep(runs, data, count, int(seed), on_progress=show_progress)
    models = model_set_for(runs)
except RunError as error:
    report_run_error(error)
    st.stop()
progress.empty()

names = {key: MODELS[key].name for key in runs}
st.markdown(f"## {headline(sweep, names)}")
st.caption(f"Accuracy on {sweep.images:,} test images (seed {sweep.seed}). Each chart's dotted line marks the "
           "unchanged digits; the row under it shows one test digit at every level with each model's answer "
           "(crossed out when wrong).")

titles = {ALL: "All seven", **{p.name: p.title for p in PERTURBATIONS}}
choice_column, example_column, button_column = st.columns([3, 2, 1], vertical_alignment="bottom")
shown = choice_column.selectbox("Perturbation", list(titles), format_func=titles.get, key="robustness.perturbation",
                              bind="query-params")
drop_unreadable_number("robustness.example")
example = example_column.number_input("Example: test image #", min_value=0, max_value=len(data.test_labels) - 1,
                                      value=0, step=1, key="robustness.example",
                                      bind="query-params")


def random_example() -> None:
    import random

    st.session_state["robustness.example"] = random.randrange(len(data.test_labels))


button_column.button("Random", on_click=random_example, key="robustness.random_example",
                     icon=":material/casino:")
pixels = data.test_images[int(example)].float().numpy() / 255
truth = int(data.test_labels[int(example)])

for result in sweep.results:
    perturbation = result.perturbation
    if shown not in (ALL, perturbation.name):
        continue
    st.header(perturbation.title, divider="gray")
    st.markdown(f"**{summary_sentence(result, names)}**")
    figure = robustness_chart(perturbation.levels, result.accuracy, perturbation.unit, perturbation.identity)
    figure.update_layout(height=330, margin={"t": 50, "b": 50})
    st.plotly_chart(for_the_room(figure), width="stretch", theme=None, config={"displayModeBar": False},  # own style
                    key=f"robustness.chart.{perturbation.name}")
    st.caption(f"{perturbation.explanation} Test image #{int(example)}, a {truth}:")
    show_strip(pixels, perturbation.name, models, truth=truth, seed=sweep.seed)

# --- The class's hard set (mnist_core.game): the drawings that fooled a model in a round of the game ---------
hard = hard_set()
if hard.problem:
    st.caption(f"The class's hard set cannot be read just now: {literal(hard.problem)}")
elif len(hard):
    st.header("On the class's hard set", divider="gray")
    hard_truth = hard.arrays()[2]
    try:
        right = {key: int((predictions(hard, run)[0] == hard_truth).sum()) for key, run in runs.items()}
    except RunError as error:
        report_run_error(error)
        st.stop()
    st.markdown(f"**{hard_set_sentence({names[key]: count for key, count in right.items()}, len(hard))}**")
    for column, (key, count) in zip(st.columns(len(right)), right.items()):
        low, high = accuracy_interval(count, len(hard))
        with column, st.container(key=f"answer_{key}_hard_set"):  # in the model's colour, as on Draw
            st.metric(names[key], f"{100 * count / len(hard):.0f}%", border=True,
                      help=f"{count} of the {len(hard)} drawings read right")
        column.caption(f"95% interval {100 * low:.0f}–{100 * high:.0f}%")
    st.caption(f"{CAVEAT} Compare tests the difference between two runs on them (its test set: the class's hard set).")
