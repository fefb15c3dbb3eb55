"""The "Why?" panel: attribution maps of the models side by side, what their first layers do,
and the training images each model is reminded of. Used under the Draw page's predictions and
for any test image on the Compare page."""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

from dashboard.gallery import png_data_url
from dashboard.loading import SharedResults, cached_model, members_of, mnist_or_none, model_of, report_run_error
from dashboard.presenter import for_the_room, model_text_color
from mnist_core.charts import attribution_chart
from mnist_core.explain import (
    BASELINE_HELP,
    METHOD_TITLES,
    METHODS,
    FeatureBank,
    attributions,
    features,
    has_features,
    inside,
    randomised_copy,
    training_features,
)
from mnist_core.models import MODELS
from mnist_core.runs import RunError, RunInfo
from mnist_core.seeds import SeedGroup

_ROW = ("display:flex;flex-wrap:wrap;gap:0.5rem 0.7rem;align-items:flex-start;margin:0.2rem 0 0.8rem 0;"
        "font-size:0.9rem;text-align:center")
_PICTURE = "width:{size}px;height:{size}px;image-rendering:pixelated;border-radius:4px;display:block"


@st.cache_resource(show_spinner=False, max_entries=8)
def _randomised(run_path: str, weights_sha256: str):
    return randomised_copy(cached_model(run_path, weights_sha256), seed=0)


@st.cache_resource(show_spinner=False)
def _banks() -> SharedResults:
    """Feature banks shared by every session: (run checksum, data root) → FeatureBank (the MLP's is 188 MB)."""
    return SharedResults(kept=6)


def _feature_bank(run: RunInfo, data, on_progress) -> FeatureBank:
    """The run's training-set features, computed once per server."""
    model = cached_model(str(run.path), run.weights_sha256)
    return _banks().get((run.weights_sha256, str(data.root)),
                        lambda: training_features(model, data.train_images, on_progress))


def prepare_feature_banks(runs: dict[str, RunInfo], data) -> None:
    """Build the feature banks of ``runs`` now (the server's warm-up), so the first Why? finds them; and
    explain one test digit once, which loads Captum (half a second) before anyone asks."""
    models = {key: cached_model(str(run.path), run.weights_sha256) for key, run in runs.items()}
    for key, run in runs.items():
        if has_features(models[key]):
            _feature_bank(run, data, on_progress=None)
    from mnist_core.data import normalize

    attributions(models, normalize(data.test_images[:1]), METHODS[0])


def why_panel(inputs, pixels: np.ndarray, runs: dict[str, RunInfo], key: str,
              ensembles: dict[str, SeedGroup] | None = None) -> None:
    """The panel for one digit (``inputs``: normalised ``(1, 1, 28, 28)``; ``pixels``: 28x28 in [0, 1]).

    A model in ``ensembles`` is explained as the ensemble that answers (its attribution map); its
    first layer and nearest training images are those of its run in use, as an ensemble has one
    per seed. Collapsed by default and remembered per session (``<key>.why``); it computes
    only while open.
    """
    ensembles = ensembles or {}
    remembered = f"{key}.why.remembered"  # outlives the widget's own state when the person visits other pages
    panel = st.expander("Why? What the models look at", icon=":material/psychology:", key=f"{key}.why",
                        expanded=st.session_state.get(remembered, False), on_change=_remember,
                        args=(f"{key}.why", remembered))
    if not panel.open:
        return
    with panel:
        method_column, sanity_column = st.columns([3, 2], vertical_alignment="bottom")
        method = method_column.segmented_control(
            "Method", METHODS, default=METHODS[0], format_func=METHOD_TITLES.get, key=f"{key}.why.method", wrap=True,
            help="Occlusion: how much the answer's probability drops when a black 5x5 patch hides each place "
                 "(the same for every model). Integrated gradients: each pixel's share of the answer, "
                 "from a black image to the digit.") or METHODS[0]
        sanity = sanity_column.toggle(
            "Sanity check: randomised weights", key=f"{key}.why.sanity",
            help="The same map for copies of the models with their weights re-initialised (Adebayo et al. 2018). "
                 "If the map hardly changes, it did not show what the model learned.")
        if method == "integrated-gradients":
            st.caption(BASELINE_HELP)
        try:
            trained = {k: cached_model(str(run.path), run.weights_sha256) for k, run in runs.items()}
            answering = {k: model_of(members_of(run, ensembles.get(k))) for k, run in runs.items()}
        except RunError as error:
            report_run_error(error)
            return
        answers = attributions(answering, inputs, method)
        shown = answers
        if sanity:
            models = {k: _randomised(str(run.path), run.weights_sha256) for k, run in runs.items()}
            shown = attributions(models, inputs, method, targets={k: a.digit for k, a in answers.items()})
        names = {k: MODELS[k].name + (f" × {len(ensembles[k].runs)} seeds" if k in ensembles else "") for k in runs}
        titles = {k: (f"{names[k]}: {a.digit} ({100 * a.probability:.0f}%)" if not sanity
                      else f"{MODELS[k].name}, weights randomised", shown[k].map) for k, a in answers.items()}
        figure = attribution_chart(pixels, titles)
        figure.update_layout(height=330, margin={"l": 10, "r": 10, "t": 50, "b": 10})
        st.plotly_chart(for_the_room(figure), width="stretch", config={"displayModeBar": False}, key=f"{key}.why.maps")
        st.caption("Red: pixels that made the answer more likely; blue: less likely. One colour scale for every model"
                   + (" — the randomised models' maps are what chance looks like." if sanity else "."))
        if ensembles:
            st.caption("The randomised copy of an ensemble, its first layer and its nearest training images are "
                       "those of its run in use: each seed has its own.")
        _inside_the_networks(trained, inputs)
        _reminders(trained, runs, inputs)


def _remember(widget_key: str, remembered: str) -> None:
    st.session_state[remembered] = bool(st.session_state.get(widget_key))


def _inside_the_networks(models: dict, inputs) -> None:
    st.markdown("**Inside the networks: the first layer**")
    for key, model in models.items():
        found = inside(key, model, inputs)
        if found is None:
            st.html(f"<div style='font-size:0.95rem'><b style='color:{model_text_color(key)}'>{MODELS[key].name}</b>: "
                    "no first-layer view: its registry entry names no first layer that reads the image directly "
                    "(a one-channel convolution, or a dense layer over the 784 pixels).</div>")
            continue
        if found.kind == "filters":
            cells = [f"<div>{_picture(_diverging(kernel), 44, '')}{_picture(_grey(response), 44, label)}</div>"
                     for kernel, response, label in zip(found.kernels, found.responses, found.labels)]
            size = "x".join(str(side) for side in found.kernels.shape[1:])
            what = (f"{len(found.kernels)} filters ({size}; red positive, blue negative) and, under each, its feature "
                    "map for this digit")
        else:
            cells = [_picture(_diverging(kernel), 60, f"{label}: {value:.1f}")
                     for kernel, value, label in zip(found.kernels, found.responses, found.labels)]
            what = "the input weights (28x28) of its six most active hidden units, and their activation"
        st.html(f"<div style='font-size:0.95rem'><b style='color:{model_text_color(key)}'>{MODELS[key].name}</b>: "
                f"{what}</div><div style='{_ROW}'>{''.join(cells)}</div>")


def _reminders(models: dict, runs: dict[str, RunInfo], inputs) -> None:
    st.markdown("**What it reminds each model of: the five nearest training images in its last hidden layer**")
    data, message = mnist_or_none()
    if data is None:
        st.caption(f"Needs the training images. {message}")
        return
    for key, model in models.items():
        if not has_features(model):
            st.html(f"<div style='font-size:0.95rem'><b style='color:{model_text_color(key)}'>{MODELS[key].name}</b>: "
                    "no nearest images: its network does not name its last hidden layer "
                    "(a <code>hidden_features</code> method).</div>")
            continue
        run = runs[key]
        progress = st.empty()

        def show(done: int, total: int, progress=progress, name=MODELS[key].name) -> None:
            progress.progress(done / total, text=f"{name}: reading the training set once ({done:,} of {total:,})…")

        bank = _feature_bank(run, data, show)
        progress.empty()
        found, distances = bank.nearest(features(model, inputs)[0])
        cells = [_picture(data.train_images[int(i)].numpy(), 56, f"a {int(data.train_labels[int(i)])} · {d:.1f}")
                 for i, d in zip(found, distances)]
        size = bank.values.shape[1]
        st.html(f"<div style='font-size:0.95rem'><b style='color:{model_text_color(key)}'>{MODELS[key].name}</b> "
                f"({size} values; label · distance)</div><div style='{_ROW}'>{''.join(cells)}</div>")
    st.caption("Distance: how far apart the drawing and the training image are in that layer (Euclidean, over its "
               "values; 0.0 would be the same values). Each model's layer has its own scale: compare distances "
               "within a model, not across models.")


def _picture(pixels: np.ndarray, size: int, caption: str) -> str:
    image = f"<img src='{png_data_url(pixels)}' alt='{html.escape(caption)}' style='{_PICTURE.format(size=size)}'>"
    return f"<div style='margin-bottom:2px'>{image}{html.escape(caption)}</div>"


def _grey(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    span = values.max() - values.min()
    return np.round(255 * (values - values.min()) / span if span > 0 else np.zeros_like(values)).astype(np.uint8)


def _diverging(values: np.ndarray) -> np.ndarray:
    """Red for positive, blue for negative, white for zero (RGB)."""
    values = np.asarray(values, dtype=np.float64)
    scaled = values / (np.abs(values).max() or 1.0)
    red, blue = np.array([178, 24, 43]), np.array([33, 102, 172])
    white = np.array([247, 247, 247])
    weight = np.abs(scaled)[..., None]
    colour = np.where(scaled[..., None] >= 0, red, blue)
    return np.round(white * (1 - weight) + colour * weight).astype(np.uint8)
