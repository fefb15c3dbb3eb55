"""The MNIST model comparison dashboard: `streamlit run app.py`.

One server, two kinds of page over one workspace (mnist_core.workspace: this folder's checkpoints/ and runs/,
the audience store): the dashboard (dashboard/frame.py, then a page of pages/), a Streamlit app; and beside it
/join (join/routes.py), the page a class opens on their phones: plain HTTP, the models running in each phone's
browser, the server storing only the labels. In front of both, the door (join/door.py): the presenter's key
link, and the room's drawings deleted when their time is up.
"""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from join import server_routes
from join.door import PresenterKeyMiddleware, door_lifespan
from mnist_core.workspace import Workspace

WORKSPACE = Workspace(Path(__file__).resolve().parent)  # the dashboard's pages reach it as dashboard.workspace()

app = st.App("dashboard/frame.py", routes=server_routes(WORKSPACE),
             middleware=[Middleware(PresenterKeyMiddleware, workspace=WORKSPACE)], lifespan=door_lifespan(WORKSPACE))
