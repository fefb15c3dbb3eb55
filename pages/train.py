"""Train: train one, several or all models, with live progress and curves, in the background.

Jobs belong to the server: after a reload, and in every other session, the Train page shows
every running job, and the jobs waiting for their turn (at most ``$MNIST_TRAINING_SLOTS`` train at
once). The presenter trains, and may stop or cancel any job; participants see the jobs, and train
only when the presenter allows it (a computer lab), one training each at a time.
"""

import streamlit as st

from dashboard.access import is_presenter, may_train, owner_id, participant_note
from dashboard.job_view import job_board, live_board
from dashboard.loading import mnist_or_none
from dashboard.markdown import literal
from dashboard.workspace import workspace
from mnist_core.jobs import TrainingJob, ordinal, save_to_folder
from mnist_core.models import MODEL_KEYS, MODELS, default_model_keys, recipe_config
from mnist_core.recipes import MAX_VALIDATION, RECIPES
from mnist_core.runs import RunError, prepare_runs_folder

SUBSET_CHOICES = [1_000, 5_000, 10_000, 30_000, 60_000]
MAX_PAGE_SEEDS = 10  # one after another on the server: more is a job for Ray (train --seeds)

st.title("Train models")

data, data_message = mnist_or_none()
if data is None:
    st.error(f"Training needs the MNIST data set. {data_message}")
    st.caption("Drawing and the shipped runs' curves keep working without it.")
    st.stop()

try:
    board = job_board()
except ValueError as error:  # a bad $MNIST_TRAINING_SLOTS
    st.error(str(error))
    st.stop()


def start(configs, seeds: int) -> None:
    """Start a job (``seeds`` > 1: a seed group of each model, seeds 0 to ``seeds`` − 1), or queue it behind
    the ones running (the runs folder checked first)."""
    if not may_train():  # asked again: the press may come from a browser that was never shown the form
        st.warning("Only the presenter can train models here.")
        return
    try:
        folder = prepare_runs_folder(workspace().runs)
    except RunError as error:
        st.error(f"Cannot save runs in {literal(error.path)}: {literal(error.reason)}")
        return
    try:
        place = board.submit(TrainingJob(configs, data, save_to_folder(folder), owner=owner_id(),
                                         seeds=tuple(range(seeds)) if seeds > 1 else None),
                             one_at_a_time=not is_presenter())
    except ValueError as error:  # this session has a job in line already (said in the message)
        st.warning(str(error))
        return
    if place:
        st.toast(f"Queued: {ordinal(place)} in line. It starts when a training ends.",
                 icon=":material/hourglass_empty:")


if board.interrupted:
    st.warning(f"{len(board.interrupted)} training{'s were' if len(board.interrupted) != 1 else ' was'} interrupted "
               "by a restart of the server: " + "; ".join(job.description for job in board.interrupted)
               + ". The runs it had finished are saved (Compare lists them); press Train to start the rest again.",
               icon=":material/restart_alt:")

if not may_train():
    participant_note("training")
    live_board(board, tuple(job.id for job in board.running()))
    st.stop()

with st.form("train.settings", border=True):
    models = st.pills("Models", list(MODEL_KEYS), default=default_model_keys(), selection_mode="multi",
                      format_func=lambda key: MODELS[key].name, key="train.models")
    recipe = st.segmented_control(
        "Recipe", list(RECIPES), default="best", key="train.recipe",
        help="best: AdamW, one-cycle schedule, random affine and stroke-thickness augmentation, digits "
             "re-drawn as on the canvas (made once, before the first epoch), a moving average of the weights, "
             "5,000 training images held out for validation (trains the shipped checkpoints). tutorial: the "
             "tutorials' settings with their bugs fixed (each model's in docs/RESULTS.md, \"The recipes\"): "
             "no augmentation, all 60,000 images for training.",
    )
    epochs_column, batch_column, rate_column, subset_column, validation_column, seeds_column = st.columns(
        [1, 1, 1, 1.4, 1, 1])
    epochs = epochs_column.number_input("Epochs", min_value=1, max_value=100, value=None, step=1,
                                        placeholder="recipe's", key="train.epochs")
    batch_size = batch_column.number_input("Batch size", min_value=8, max_value=4096, value=None, step=16,
                                           placeholder="recipe's", key="train.batch_size")
    learning_rate = rate_column.number_input("Learning rate", min_value=1e-5, max_value=1.0, value=None,
                                             format="%.4f", placeholder="recipe's", key="train.lr")
    subset = subset_column.select_slider("Training images", SUBSET_CHOICES, value=60_000, key="train.subset",
                                         format_func=lambda n: "all" if n >= 60_000 else f"{n:,}")
    validation = validation_column.number_input(
        "Validation images", min_value=0, max_value=MAX_VALIDATION, value=None, step=1000, placeholder="recipe's",
        key="train.validation", help="Training images held out (always the same ones) to choose settings on: "
                                     "their accuracy is shown per epoch beside the test accuracy. 0 for none.")
    seeds = seeds_column.number_input(
        "Seeds", min_value=1, max_value=MAX_PAGE_SEEDS, value=1, step=1, key="train.seeds",
        help="More than 1: each model is trained once per seed (0, 1, …), the same settings from another random "
             "start, one run after another. Overview and Compare then rank the architectures across the seeds, "
             "not from one lucky or unlucky run. Many seeds train faster on Ray: python -m mnist_core train "
             "--seeds N (docs/CLI.md).")
    submitted = st.form_submit_button("Train", type="primary", icon=":material/play_arrow:")

if submitted:
    if not models:
        st.warning("Choose at least one model.")
    else:
        try:
            configs = {
                key: recipe_config(key, recipe or "best", epochs=epochs, batch_size=batch_size,
                                   learning_rate=learning_rate, train_subset=None if subset >= 60_000 else subset,
                                   validation=validation)
                for key in models
            }
        except ValueError as error:
            st.error(str(error))
        else:
            start(configs, int(seeds or 1))

if not board.jobs():
    st.info("Choose models and settings, then press **Train**. Training runs in the background on the server: "
            "you can switch pages or reload, and other viewers see it too. Each finished model is saved as a "
            "new run.")
live_board(board, tuple(job.id for job in board.running()))
