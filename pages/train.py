"""Train: train one, several or all models, with live progress and curves, in the background."""

import streamlit as st

from mnist_core.charts import Curve, history_chart
from mnist_core.jobs import FAILED, RUNNING, SAVED, STOPPED, WAITING, TrainingJob, save_to_folder
from mnist_core.models import MODEL_KEYS, MODELS
from mnist_core.recipes import RECIPES, recipe_config
from pages.shared.frame import ensure_frame
from pages.shared.loading import mnist_or_none
from pages.shared.markdown import literal
from pages.shared.run_choice import user_runs_folder

JOB_KEY = "train.job"
SUBSET_CHOICES = [1_000, 5_000, 10_000, 30_000, 60_000]
STATE_ICONS = {WAITING: ":material/hourglass_empty:", RUNNING: ":material/directions_run:",
               SAVED: ":material/check_circle:", STOPPED: ":material/stop_circle:", FAILED: ":material/error:"}

ensure_frame()
st.title("Train models")

data, data_message = mnist_or_none()
if data is None:
    st.error(f"Training needs the MNIST data set. {data_message}")
    st.caption("Drawing and the shipped runs' curves keep working without it.")
    st.stop()

job: TrainingJob | None = st.session_state.get(JOB_KEY)
busy = job is not None and not job.snapshot().finished

with st.form("train.settings", border=True):
    models = st.pills("Models", list(MODEL_KEYS), default=list(MODEL_KEYS), selection_mode="multi",
                      format_func=lambda key: MODELS[key].name, key="train.models")
    recipe = st.segmented_control(
        "Recipe", list(RECIPES), default="best", key="train.recipe",
        help="best: AdamW, one-cycle schedule, random affine augmentation (trains the shipped checkpoints). "
             "tutorial: the tutorials' settings with their bugs fixed: batch 100, 10 epochs, SGD 0.01 for the "
             "MLP, Adam for the CNNs, no augmentation.",
    )
    epochs_column, batch_column, rate_column, subset_column = st.columns(4)
    epochs = epochs_column.number_input("Epochs", min_value=1, max_value=100, value=None, step=1,
                                        placeholder="recipe's", key="train.epochs")
    batch_size = batch_column.number_input("Batch size", min_value=8, max_value=4096, value=None, step=16,
                                           placeholder="recipe's", key="train.batch_size")
    learning_rate = rate_column.number_input("Learning rate", min_value=1e-5, max_value=1.0, value=None,
                                             format="%.4f", placeholder="recipe's", key="train.lr")
    subset = subset_column.select_slider("Training images", SUBSET_CHOICES, value=60_000, key="train.subset",
                                         format_func=lambda n: f"{n:,}")
    submitted = st.form_submit_button("Train", type="primary", disabled=busy, icon=":material/play_arrow:")

if submitted and busy:
    st.warning("A training is already running in this session: stop it or wait for it to finish.")
elif submitted:
    if not models:
        st.warning("Choose at least one model.")
    else:
        try:
            configs = {
                key: recipe_config(key, recipe or "best", epochs=epochs, batch_size=batch_size,
                                   learning_rate=learning_rate, train_subset=None if subset >= 60_000 else subset)
                for key in models
            }
        except ValueError as error:
            st.error(str(error))
        else:
            job = TrainingJob(configs, data, save_to_folder(user_runs_folder(), len(data.train_labels))).start()
            st.session_state[JOB_KEY] = job
            busy = True

if job is None:
    st.info("Choose models and settings, then press **Train**. Training runs in the background: you can "
            "switch pages, and other viewers are not held up. Each finished model is saved as a new run.")
    st.stop()


def show_job(job: TrainingJob) -> None:
    snapshot = job.snapshot()
    for status in snapshot.statuses:
        name = MODELS[status.model_key].name
        detail = f"epoch {status.epoch}/{status.epochs}" if status.state == RUNNING else status.state
        if status.loss is not None and status.state == RUNNING:
            detail += f" · loss {status.loss:.3f}"
        if status.history:
            detail += f" · test accuracy {100 * status.history[-1].test_accuracy:.2f}%"
        st.progress(min(1.0, status.fraction), text=f"{STATE_ICONS[status.state]} **{name}** — {detail}")
        if status.message:
            (st.error if status.state == FAILED else st.caption)(status.message)
    curves = [Curve(MODELS[s.model_key].name, s.model_key, [row.to_dict() for row in s.history])
              for s in snapshot.statuses if s.history]
    if curves:
        accuracy_column, loss_column = st.columns(2)
        accuracy_column.plotly_chart(history_chart(curves, "test_accuracy"), width="stretch", key="train.accuracy")
        loss_column.plotly_chart(history_chart(curves, "train_loss"), width="stretch", key="train.loss")
    else:
        st.caption("The curves appear after the first epoch.")
    if snapshot.finished:
        saved = snapshot.saved_runs
        if saved:
            st.success(f"Finished in {snapshot.seconds:.0f} s. Saved {len(saved)} run(s): "
                       + ", ".join(literal(path.name) for path in saved))
            st.page_link("pages/compare.py", label="Compare them", icon=":material/compare:")
        else:
            st.warning("Nothing was saved: training stopped before any epoch finished.")


@st.fragment(run_every=1.0)
def live_progress() -> None:
    # Polls the background job once a second; only this fragment reruns.
    show_job(job)
    if st.button("Stop", icon=":material/stop:", disabled=job.stopping, key="train.stop"):
        job.stop()
        st.toast("Stopping after the current batch; finished epochs are saved.")
    if job.snapshot().finished:
        st.rerun()  # once, to leave polling and enable the form again


if busy:
    live_progress()
else:
    show_job(job)
