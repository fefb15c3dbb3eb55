"""Fool the models (mnist_core.game) on the Audience page: the presenter's Start and Stop, and for everyone, live,
the round's clock, the leaderboard, each model's "fooled N times" (the model fooled least first: what the lesson
is about), and the class's hard set.

Start and Stop are offered to the presenter only, and their callbacks refuse anyone else
(:func:`dashboard.access.presenter_only`): a participant's browser can send any widget event.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard.access import is_presenter, presenter_only
from dashboard.audience import audience_store
from dashboard.gallery import png_data_url
from dashboard.images import upscale
from dashboard.markdown import counted, literal
from dashboard.presenter import model_text_color, presenting
from dashboard.workspace import workspace
from mnist_core.audience import AudienceStoreError, Drawing
from mnist_core.game import LEADERS_SHOWN, MAX_ROUND_MINUTES, ROUND_MINUTES, Game, GameError, Round, Standings
from mnist_core.models import MODEL_KEYS, MODELS

REFRESH_SECONDS = 2  # the clock's step on the projector
HARD_SET_SHOWN = 24  # the newest drawings of the hard set in the gallery
FINAL_SCORES_MINUTES = 10  # after a round, its final scores stay at the top of the page this long
MINUTES_KEY = "game.minutes"
LAYOUT_KEY = "game.layout"  # what the page was laid out for: (the game first, a round running)
_STYLE = """<style>
.st-key-game-clock p { font-size: 2.4rem; font-weight: 700; line-height: 1.1; margin: 0; }
.st-key-game-hardest p { font-size: 1.25rem; }
.st-key-game-leaders table { font-size: 1.1rem; width: 100%; }
.st-key-game-models p { font-size: 1.1rem; margin-bottom: 0.2rem; }
PROJECTOR
</style>"""
# Projector mode (its body text is 20 px): the scores in type the back of a room reads, the leaderboard's ten
# rows and the heading on a 720-px screen.
_PROJECTOR = """
.st-key-game-clock p { font-size: 3.4rem; }
.st-key-game-hardest p { font-size: 1.6rem; line-height: 1.25; }
.st-key-game-models p { font-size: 1.6rem; }
.st-key-game-leaders table { font-size: 1.3rem; }
.st-key-game-leaders table th, .st-key-game-leaders table td { padding: 0.1rem 0.6rem; }
"""
_GRID = ("display:grid;grid-template-columns:repeat(auto-fill,minmax(7.5rem,1fr));gap:1rem;margin:0.5rem 0 1rem 0;"
         "font-size:0.95rem;line-height:1.35")
_IMAGE = "width:100%;max-width:150px;aspect-ratio:1;image-rendering:pixelated;border-radius:6px;display:block"


def game_comes_first() -> bool:
    """Whether the page shows the game first: a round is running, or ended in the last
    :data:`FINAL_SCORES_MINUTES` (its final scores stay on the projector). Remembered, with whether a round runs
    (the presenter's Stop, else Start), for :func:`live_game`, which lays the page out again when either changes."""
    try:
        latest = Game(audience_store()).latest()
    except AudienceStoreError:
        latest = None  # the live results say what is wrong with the store
    st.session_state[LAYOUT_KEY] = _layout(latest, datetime.now(UTC))
    return st.session_state[LAYOUT_KEY][0]


def _layout(round_: Round | None, now: datetime) -> tuple[bool, bool]:
    if round_ is None:
        return False, False
    ended = min(round_.ends, round_.stopped or round_.ends)
    return round_.running(now) or now - ended < timedelta(minutes=FINAL_SCORES_MINUTES), round_.running(now)


def game_section() -> None:
    """"Fool the models": the round's controls (the presenter's) and its live scores."""
    st.html(_STYLE.replace("PROJECTOR", _PROJECTOR if presenting() else ""))
    # The presenter's controls beside the heading (a projector's screen has no line to spare), outside the live
    # part: a press reruns the page, which lays it out for the round (the game first).
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", key="game-controls"):
        st.header("Fool the models", width="content")
        if is_presenter() and st.session_state.get(LAYOUT_KEY, (False, False))[1]:
            st.button("Stop the round", key="game.stop", on_click=_stop, icon=":material/stop_circle:")
        elif is_presenter():
            st.number_input("Minutes", min_value=1, max_value=MAX_ROUND_MINUTES, value=ROUND_MINUTES, step=1,
                            key=MINUTES_KEY, width=110)
            st.button("Start a round", key="game.start", on_click=_start, type="primary",
                      icon=":material/play_arrow:")
    if not presenting():
        st.caption("During a round, phones on /join draw digits the models read wrong. A drawing scores once a "
                   "classmate reads it as its drawer said: one point per model it fooled. Which model is hardest "
                   "to fool?")
    live_game()


@st.fragment(run_every=REFRESH_SECONDS)
def live_game() -> None:
    store = audience_store()
    try:
        location = workspace().audience_location
        version = store.version()
        standings = _standings(location, version)
        hard_set_ids = _hard_set_ids(location, version)
        shown = _hard_set_drawings(location, version, tuple(hard_set_ids[-HARD_SET_SHOWN:]))
    except AudienceStoreError as error:
        st.error(literal(error))
        return
    now = datetime.now(UTC)
    layout = _layout(standings.round, now)
    if layout != st.session_state.get(LAYOUT_KEY, layout):
        # A round began or ended since the page was laid out: the presenter's Start becomes Stop, or back, and
        # the game moves to the top, or back.
        st.rerun()

    if standings.round is None:
        st.info("No round yet." + ("" if is_presenter() else " The presenter starts one here; then draw on /join."),
                icon=":material/sports_esports:")
    else:
        models = _models(standings)
        board, leaders = st.columns([2, 3], gap="large")
        with board:
            with st.container(key="game-clock"):
                st.markdown(clock(standings.round, now))
            with st.container(key="game-hardest"):
                st.markdown(f"**{hardest(models)}**")
            with st.container(key="game-models"):
                for key, count in sorted(models.items(), key=lambda item: item[1]):  # ties in the registry's order
                    st.markdown(_coloured(key) + f" fooled **{count}** time{'' if count == 1 else 's'}",
                                unsafe_allow_html=True)
        with leaders, st.container(key="game-leaders"):
            st.markdown(leaderboard(standings))
        if not presenting():
            st.caption(f"This round: {counted(standings.candidates, 'drawing')} fooled a model; "
                       f"{standings.confirmed} confirmed by a classmate, {standings.rejected} read otherwise "
                       "(no points).")
    waiting = 0
    if workspace().room_settings().review_first:  # the projector shows the drawings the presenter approved
        waiting = sum(not drawing.approved for drawing in shown)
        shown = [drawing for drawing in shown if drawing.approved]
    hard_set_gallery(shown, len(hard_set_ids), waiting)


def clock(round_: Round | None, now: datetime) -> str:
    """The round's time left (``4:05 left``), or that it is over."""
    if round_ is None:
        return "No round"
    if not round_.running(now):
        return "Round over"
    minutes, seconds = divmod(round_.seconds_left(now), 60)
    return f"{minutes}:{seconds:02d} left"


def hardest(models: dict[str, int]) -> str:
    """The lesson in a sentence: the model fooled least (ties named together)."""
    if not models:
        return "No model has answered yet."
    if not any(models.values()):
        return "Nobody has fooled a model yet."
    least = min(models.values())
    names = [MODELS[key].name if key in MODELS else key for key, count in models.items() if count == least]
    together = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Hardest to fool: {literal(together)} (fooled {counted(least, 'time')}{' each' if len(names) > 1 else ''})"


def leaderboard(standings: Standings) -> str:
    """The top players as a Markdown table (nicknames escaped)."""
    if not standings.players:
        return "No points yet: a drawing scores once a classmate confirms it."
    rows = ["| # | Player | Points |", "|---:|:---|---:|"]
    rows += [f"| {place} | {literal(player.nickname)} | {player.points} |"
             for place, player in enumerate(standings.players[:LEADERS_SHOWN], 1)]
    return "\n".join(rows)


def hard_set_gallery(drawings: list[Drawing], count: int, waiting: int = 0) -> None:
    """The class's hard set: its size, and its newest drawings, each with its label and the models it fooled."""
    st.markdown(f"**The class's hard set: {counted(count, 'drawing')}**")
    if not count:
        st.caption("Confirmed drawings that fooled a model gather here, round after round.")
        return
    if not presenting():
        st.caption("Every confirmed drawing that fooled a model, every round: a test set this class made"
                   + (" (in the export: hard-set/)." if is_presenter() else "."))
    cells = []
    for drawing in reversed(drawings):  # the newest first
        fooled = [f"<span style='white-space:nowrap'><span style='color:{html.escape(_colour(key), quote=True)};"
                  f"font-weight:600'>{html.escape(_name(key))}</span> read {digit}</span>"
                  for key, digit in drawing.answers.items() if digit != drawing.label]
        cells.append(f"<div><img src='{png_data_url(upscale(drawing.pixels, 4))}' "
                     f"alt='drawing {drawing.id}, labelled {drawing.label}' style='{_IMAGE}'>"
                     f"<div><b>#{drawing.id}</b> · label {drawing.label}<br>fooled: {', '.join(fooled)}</div></div>")
    # The only markup is ours: the models' names and colours are escaped.
    st.html(f"<div style='{_GRID}'>{''.join(cells)}</div>")
    if waiting:
        st.caption(f"{counted(waiting, 'drawing')} of the newest wait for the presenter's review (Moderate, "
                   "above) before they show here.")
    elif count > len(drawings):
        st.caption(f"The newest {len(drawings)} of {count:,} are shown.")


def _models(standings: Standings) -> dict[str, int]:
    """Each model in use (the runs phones play against) and each other model fooled this round: times fooled,
    in the registry's order."""
    in_use = workspace().runs_in_use()
    keys = [key for key in MODEL_KEYS if key in in_use or key in standings.models]
    keys += [key for key in standings.models if key not in keys]  # a model no longer registered
    return {key: standings.models.get(key, 0) for key in keys}


def _coloured(key: str) -> str:
    return (f"<span style='color:{html.escape(_colour(key), quote=True)};font-weight:700'>"
            f"{literal(_name(key))}</span>")


def _name(key: str) -> str:
    return MODELS[key].name if key in MODELS else key


def _colour(key: str) -> str:
    return model_text_color(key)  # "inherit" for a model no longer registered


@st.cache_data(max_entries=8, show_spinner=False)
def _standings(location: str, version: tuple) -> Standings:
    """The newest round's scores, once per change of the store (``version``) for every viewer."""
    return Game(audience_store()).standings()


@st.cache_data(max_entries=8, show_spinner=False)
def _hard_set_ids(location: str, version: tuple) -> list[int]:
    return Game(audience_store()).hard_set_ids()


@st.cache_data(max_entries=8, show_spinner=False)
def _hard_set_drawings(location: str, version: tuple, ids: tuple[int, ...]) -> list[Drawing]:
    return audience_store().by_ids(list(ids))


def _start() -> None:
    if not presenter_only("start a round"):
        return
    try:
        started = Game(audience_store()).start(st.session_state.get(MINUTES_KEY, ROUND_MINUTES))
    except (GameError, AudienceStoreError) as error:
        st.toast(f"No round started: {error}", icon=":material/error:")
        return
    st.toast(f"Round {started.id} started.", icon=":material/sports_esports:")


def _stop() -> None:
    if not presenter_only("stop the round"):
        return
    try:
        Game(audience_store()).stop()
    except AudienceStoreError as error:
        st.toast(f"The round goes on: {error}", icon=":material/error:")
