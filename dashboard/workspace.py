"""The app's workspace, as app.py makes it at the app's folder: the pages' one way to the folders, the runs in
use, the room and the audience store (mnist_core.workspace)."""

from __future__ import annotations

from app import WORKSPACE  # the server's module "app" (Streamlit imports app.py so); an AppTest imports it here
from mnist_core.workspace import Workspace


def workspace() -> Workspace:
    return WORKSPACE
