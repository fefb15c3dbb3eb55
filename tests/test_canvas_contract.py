"""One canvas contract: the canvas's side, its brush and prepare_digit's thresholds live in the library
(mnist_core.canvas, preprocess, strokes); /join's page gets them in its config, and neither its scripts nor
any other Python file holds a copy (STYLE.md, lesson 14)."""

from __future__ import annotations

import asyncio
import html
import json
import re
import tokenize
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.requests import Request

from join import routes
from mnist_core import canvas, preprocess, strokes
from mnist_core.workspace import Workspace

PROJECT = Path(__file__).resolve().parents[1]
SCRIPTS = ("join.js", "prepare.js")
# Names the scripts once gave their own copies (SIDE, BRUSH, HALF) and the library's names.
COPIED_NAMES = {"SIDE", "BRUSH", "HALF", "CANVAS_SIDE", "BRUSH_WIDTH", *routes.PREPARE}
# A half is also the algorithm's own number in prepare.js (a pixel's centre, the bicubic filter's a, a median's
# split), not a copy of STROKE_LEVEL: a declared copy of that is caught by its name.
GENERIC = {0.5}


@pytest.fixture(scope="module")
def served() -> str:
    scope = {"type": "http", "method": "GET", "path": "/join", "headers": [], "query_string": b""}
    # In a thread of its own: a browser test's Playwright (the session's Chromium) keeps an event loop running here.
    with ThreadPoolExecutor(1) as thread:
        reply = thread.submit(lambda: asyncio.run(routes.page(Request(scope), Workspace(PROJECT))))
        return reply.result().body.decode()


def page_config(page: str) -> dict:
    return json.loads(html.unescape(re.search(r'data-config="([^"]*)"', page).group(1)))


def code_of(name: str) -> str:
    """A static file of /join without its comments."""
    text = (routes.STATIC / name).read_text(encoding="utf-8")
    return re.sub(r"//[^\n]*|/\*.*?\*/|<!--.*?-->", "", text, flags=re.S)


def numbers_in(code: str) -> set[float]:
    return {float(number) for number in re.findall(r"(?<![\w.$])\d+(?:\.\d+)?(?:e\d+)?(?![\w.])", code)}


def test_the_page_config_carries_the_library_canvas_and_thresholds(served):
    config = page_config(served)
    assert config["canvas"] == {"side": canvas.CANVAS_SIDE, "brush": canvas.BRUSH_WIDTH}
    library = {**vars(strokes), **vars(preprocess)}
    assert set(config["prepare"]) <= set(library), set(config["prepare"]) - set(library)
    assert config["prepare"] == {name: library[name] for name in config["prepare"]}
    # The canvas's own pixels, in the page before any script runs.
    assert f'<canvas id="canvas" width="{canvas.CANVAS_SIDE}" height="{canvas.CANVAS_SIDE}"' in served
    assert "{{" not in served


def test_the_scripts_read_every_constant_from_the_config_and_it_sends_none_unused(served):
    prepare, join = code_of("prepare.js"), code_of("join.js")
    read = set(re.findall(r"\bconstants\.([A-Z_]+)\b", prepare))
    for names in re.findall(r"const \{([^}]*)\} = (?:constants|config\.prepare);", prepare + join):
        read |= {name.strip() for name in names.split(",")}
    assert read == set(page_config(served)["prepare"])
    assert "setConstants(config.prepare);" in join
    assert "const { side: SIDE, brush: BRUSH } = config.canvas;" in join


@pytest.mark.parametrize("name", [*SCRIPTS, "join.html"])
def test_the_page_holds_no_copy_of_the_library_numbers(name):
    code = code_of(name)
    declared = set(re.findall(r"\b(?:const|let|var)\s+([A-Z_]+)\s*=\s*[-+]?[\d.]", code))
    assert not declared & COPIED_NAMES, declared & COPIED_NAMES
    values = {canvas.CANVAS_SIDE, canvas.BRUSH_WIDTH, *routes.PREPARE.values()} - GENERIC
    assert not numbers_in(code) & {float(value) for value in values}, numbers_in(code) & values


@pytest.mark.slow
def test_no_python_file_copies_the_canvas_side_or_brush():
    copies = []
    for path in sorted([*PROJECT.glob("*.py"), *(PROJECT / "mnist_core").rglob("*.py"),
                        *(PROJECT / "pages").rglob("*.py"), *(PROJECT / "tools").rglob("*.py")]):
        if path == PROJECT / "mnist_core" / "canvas.py":
            continue
        with path.open("rb") as source:
            copies += [f"{path.relative_to(PROJECT)}:{token.start[0]}" for token in tokenize.tokenize(source.readline)
                       if token.type == tokenize.NUMBER and token.string in (str(canvas.CANVAS_SIDE),
                                                                             str(canvas.BRUSH_WIDTH))]
    assert not copies, f"import them from mnist_core.canvas instead: {copies}"
