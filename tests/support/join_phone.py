"""A phone on /join in Chromium, for the browser tests of the page itself (its languages, its keyboard path, Clear
and Undo): a server with a few fake MNIST test digits, a 390x844 touch screen, and the steps those tests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.join_app import folder_env
from tests.support.join_server import JoinServer
from tests.support.mnist_files import write_fake_mnist
from tools.browser import streamlit_server, wait_for

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@contextmanager
def join_server_with_test_digits(folder: Path) -> Iterator[JoinServer]:
    """The real server over ``folder``, its MNIST 40 fake test digits (tests/support/mnist_files.py): GET
    /join/digit answers without the real data set."""
    env = {**folder_env(folder), "MNIST_DATA_DIR": str(write_fake_mnist(folder / "mnist"))}
    with streamlit_server(env) as running:
        yield JoinServer(running.url, running.process.pid, folder)


def open_join(browser, server: JoinServer, **context):
    """/join on a phone (``context``: Playwright's new_context options over PHONE's), its models loaded."""
    page = browser.new_context(**{**PHONE, **context}).new_page()
    page.goto(f"{server.url}/join")
    page.wait_for_selector("body[data-ready=true]", timeout=90_000)
    return page


def answers(page) -> dict[str, str]:
    """Each model's answer on the page: key → digit ("" for none)."""
    return {box.get_attribute("data-model"): box.get_attribute("data-digit") for box in page.locator(".answer").all()}


def pick_a_test_digit(page) -> None:
    """The keyboard's way: Tab to "Pick a test digit" (however many stops before it), Enter, until all answer."""
    before = page.evaluate("Number(document.body.dataset.answered || 0)")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.action") == "pick":
            break
    else:
        raise AssertionError("Tab never reached the test digit's button")
    page.keyboard.press("Enter")
    wait_for(lambda: page.evaluate("Number(document.body.dataset.answered || 0)") > before
             and all(answers(page).values()), what="the models' answers to a test digit")
