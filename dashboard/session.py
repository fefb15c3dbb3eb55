"""This browser session's anonymous id: whose stored drawings and queued trainings are whose."""

from __future__ import annotations

import uuid

import streamlit as st

SESSION_KEY = "session.id"


def session_id() -> str:
    return st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex)
