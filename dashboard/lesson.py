"""A lesson path through the app, for the presenter: a few steps from one drawing to the class's results, each
a link and one plain sentence to say (reached from the Overview)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.navigation import page_link


@dataclass(frozen=True)
class LessonStep:
    page: str  # a page of dashboard/navigation.py
    label: str  # the link
    say: str  # what the teacher can say or ask, in plain words


LESSON: tuple[LessonStep, ...] = (
    LessonStep("draw", "Draw a digit",
               "Draw a digit: three models answer as you draw. Ask the class first which one will be right."),
    LessonStep("draw", "Nudge it",
               "Open “Nudge it” under the canvas and move, thicken or turn the digit a little: "
               "watch which model changes its mind first."),
    LessonStep("draw", "Why?",
               "Open “Why?”: the pixels each model looked at. Two models can give the same answer for "
               "different reasons."),
    LessonStep("robustness", "Blur it, turn it",
               "The 10,000 test digits blurred, turned or noisy: which model holds up when digits look less "
               "like the ones it learned from?"),
    LessonStep("audience", "The class joins",
               "Show the QR code: everyone draws on their phone, and each phone runs the three models itself."),
    LessonStep("audience", "Fool the models",
               "Start a round: everyone draws a digit a classmate reads easily but a model gets wrong, and the "
               "model fooled least is the hardest to fool."),
    LessonStep("audience", "Results",
               "How well each model reads this room's handwriting, next to how it reads MNIST's test digits."),
)


def lesson_path(expanded: bool = False) -> None:
    """The lesson's steps in an expander (key ``overview.lesson``): a link and a sentence each."""
    with st.expander(f"Teaching with it: a lesson in {len(LESSON)} steps", icon=":material/school:",
                     expanded=expanded, key="overview.lesson"):
        for number, step in enumerate(LESSON, 1):
            link, say = st.columns([1, 3], vertical_alignment="center")
            with link:
                page_link(step.page, f"{number}. {step.label}")
            say.markdown(step.say)
