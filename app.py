"""The MNIST model comparison dashboard: `streamlit run app.py`.

One server, two kinds of page: the dashboard (the frame dashboard/frame.py, then pages/), a Streamlit app;
and beside it /join, the page a class opens on their phones (join/routes.py): plain HTTP, the
models running in each phone's browser, the server storing only the labels. In front of both, the door
(join/door.py): the presenter's key link, and the room's drawings deleted when their time is up.
"""

import streamlit as st
from starlette.middleware import Middleware

from join.door import PresenterKeyMiddleware, lifespan
from join.presenter_routes import presenter_routes
from join.routes import join_routes

app = st.App("dashboard/frame.py", routes=join_routes() + presenter_routes(),
             middleware=[Middleware(PresenterKeyMiddleware)], lifespan=lifespan)
