"""Audience: the drawings people labelled on the Draw page, as a live test set for the models."""

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.access import is_presenter, participant_note
from dashboard.accessibility import matrix_table
from dashboard.audience import audience_store
from dashboard.finetune_view import teaching_section
from dashboard.gallery import Answers, show_gallery
from dashboard.game_view import game_comes_first, game_section
from dashboard.join_link import join_panel
from dashboard.markdown import counted, literal
from dashboard.moderation import lesson_controls, moderation_panel, room_settings_panel
from dashboard.navigation import page_link
from dashboard.presenter import for_the_room, matrix_layout, presenting, show_table
from dashboard.workspace import workspace
from mnist_core.audience import MISREAD_SHOWN, AudienceStoreError, AudienceSummary, Drawing, damaged_skipped
from mnist_core.charts import confusion_heatmap
from mnist_core.comparison import accuracy_interval
from mnist_core.models import MODEL_KEYS, MODELS

REFRESH_SECONDS = 3

st.title("Audience")
# During a round (and a while after) the game comes first, on the projector's first screen; the join panel
# follows, for late joiners.
game_first = game_comes_first()
# A projector's first screen has no line to spare: the round, or for latecomers the join panel and the scores (the
# game's heading and its hard set follow them).
scores_first = presenting() and not game_first
if not presenting():
    st.caption("Every drawing someone labelled with “What did you draw?” on the Draw page or on a phone (/join), "
               "scored live: how well does each model read this room's handwriting? Nothing is stored unless a "
               "digit is pressed.")
if game_first:
    game_section()
join_panel(presenting())
if not game_first and not scores_first:
    game_section()
store = audience_store()


@st.cache_data(max_entries=8, show_spinner=False)
def summary(location: str, version: tuple, keys: tuple[str, ...]) -> AudienceSummary:
    """The scores of the registered models (``keys``), summed once per change of the store
    (``version``) for every viewer."""
    return audience_store().summary(keys)


@st.cache_data(max_entries=8, show_spinner=False)
def misread(location: str, version: tuple, keys: tuple[str, ...], approved: bool | None) -> list[Drawing]:
    return audience_store().misread(keys, approved=approved)


@st.fragment(run_every=REFRESH_SECONDS)
def live_results() -> None:
    # A fragment that reruns every few seconds: new drawings appear while the page is open. Each
    # rerun costs two stat calls unless the store changed (``version``).
    try:
        version = store.version()
        scores = summary(workspace().audience_location, version, tuple(MODEL_KEYS))
        gallery_keys = tuple(scores.models_answering_all)
        review_first = workspace().room_settings().review_first  # then the projector shows approved drawings only
        shown = misread(workspace().audience_location, version, gallery_keys, True if review_first else None) \
            if scores.misread else []
    except AudienceStoreError as error:
        st.error(literal(error))
        return
    if scores.damaged:
        st.warning(f"{damaged_skipped(scores.damaged)}.", icon=":material/warning:")
    if not scores.drawings:
        st.info("No labelled drawings yet. On the Draw page, draw a digit and press the digit you drew.",
                icon=":material/groups:")
        page_link("draw", "Draw a digit")
        return
    # Each model over the drawings it answered: a model chosen later (LeNet-5 (ReLU), one of the
    # operator's own) answered fewer; the registered ones that answered none are left out.
    keys = [key for key in MODEL_KEYS if scores.answered.get(key)]
    if not keys:
        st.info("No registered model answered these drawings: the store holds another set of models' answers.")
        return
    stats = scores.to_stats()
    st.markdown(f"## {counted(scores.drawings, 'drawing')} from {counted(scores.sessions, 'session')}")
    if scores.hidden:
        st.caption(f"{counted(scores.hidden, 'drawing')} hidden by the presenter: not scored or shown.")

    rows = []
    for column, key in zip(st.columns(len(keys)), keys):
        right, total = stats.correct[key], stats.answered[key]
        low, high = accuracy_interval(right, total)
        with column, st.container(key=f"answer_{key}_audience"):  # in the model's colour, as on Draw
            st.metric(MODELS[key].name, f"{100 * right / total:.1f}%", border=True,
                      help=f"{right} of the {total} drawings it answered read right")
        column.caption(f"95% interval {100 * low:.0f}–{100 * high:.0f}%"
                       + (f" · {counted(total, 'drawing')}" if total != scores.drawings else ""))
        rows.append({"Model": MODELS[key].name, "Right": right, "Wrong": total - right,
                     "Accuracy (%)": round(100 * right / total, 1),
                     "95% interval (%)": f"{100 * low:.1f}–{100 * high:.1f}"})
    show_table(pd.DataFrame(rows))

    st.header("Confusion matrices")
    height, counts_size = matrix_layout()
    for column, key in zip(st.columns(len(keys)), keys):
        figure = confusion_heatmap(scores.confusion[key], title=MODELS[key].name, model_key=key,
                                   counts_size=counts_size)
        figure.update_layout(height=height, margin={"l": 50, "r": 10, "t": 50, "b": 60})  # as Compare's
        # theme=None: Streamlit's chart theme shrank the matrix and its counts (8 px at 1920x1080).
        column.plotly_chart(for_the_room(figure), width="stretch", theme=None, config={"displayModeBar": False},
                            key=f"audience.confusion.{key}")
        with column:
            matrix_table(scores.confusion[key], MODELS[key].name)

    st.header("Misread drawings")
    if review_first:
        st.caption("The presenter reviews each misread drawing before it is shown here.")
    if not shown:
        st.caption("None approved yet." if review_first and scores.misread else
                   "Every model read every drawing right." if gallery_keys else
                   "No model answered every drawing, so none is shown side by side.")
        return
    truth = np.array([d.label for d in shown])
    answers = [Answers(MODELS[key].name, key, np.array([d.answers[key] for d in shown]),
                       np.array([max(d.probabilities[key]) for d in shown])) for key in gallery_keys]
    show_gallery(np.arange(len(shown)), [d.pixels for d in shown], truth, answers, limit=MISREAD_SHOWN,
                 test_images=False, numbers=[d.id for d in shown])
    if scores.misread > len(shown) and not review_first:
        st.caption(f"The newest {len(shown)} of {scores.misread:,} are shown.")


live_results()
if scores_first:
    game_section()
st.divider()
teaching_section()
st.divider()
if not is_presenter():
    participant_note("exporting, hiding or deleting the drawings")
    st.stop()
moderation_panel(store)
room_settings_panel()
lesson_controls(store)
