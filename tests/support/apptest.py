"""Opening pages with Streamlit's AppTest and reading what they show."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support import PROJECT_ROOT

APP = str(PROJECT_ROOT / "dashboard" / "frame.py")  # the frame; app.py serves it (and /join) with Streamlit


def open_page(page: str | None = None) -> AppTest:
    """The frame, then ``page`` (a path from the project folder, e.g. ``pages/draw.py``; None: the Overview)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page:
        switch_to(at, page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Runs in use" in sidebar_text(at)  # the frame (dashboard/frame.py) ran around the page
    return at


def switch_to(at: AppTest, page: str) -> AppTest:
    """Switch ``at`` to ``page``, a path from the project folder (AppTest takes it relative to the frame, or absolute);
    run it next."""
    return at.switch_page(str(PROJECT_ROOT / page))


def sidebar_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in (*at.sidebar.markdown, *at.sidebar.caption, *at.sidebar.subheader))


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.info, *at.success, *at.warning, *at.error)]
    return "\n".join(str(p) for p in parts)


def press_train(at: AppTest, models: list[str], epochs: int, subset: int = 1_000) -> AppTest:
    """On the Train page, choose ``models``, ``epochs`` and ``subset`` training images, and press Train."""
    at.session_state["train.models"] = models
    at.session_state["train.subset"] = subset
    at.session_state["train.epochs"] = epochs
    return at.button[0].click().run()  # the form's Train button


def html_blocks(at: AppTest) -> list[str]:
    """The bodies of the page's ``st.html`` blocks, without the frame's style sheet."""
    bodies = [element.proto.body for element in at.get("html")]
    return [body for body in bodies if not body.lstrip().startswith("<style>")]
