"""The MNIST model comparison dashboard: `streamlit run app.py`.

One server, two kinds of page: the dashboard (the frame dashboard.py, then pages/), a Streamlit app;
and beside it /join, the page a class opens on their phones (pages/join/routes.py): plain HTTP, the
models running in each phone's browser, the server storing only the labels.
"""

import streamlit as st

from pages.join.routes import join_routes

app = st.App("dashboard.py", routes=join_routes())
