"""The dashboard's frame (``streamlit run app.py`` runs it; see app.py): page config, navigation, the
shared sidebar, then the page.
"""

import streamlit as st

from dashboard.navigation import navigation_pages
from dashboard.presenter import dark_theme, page_style, projector_mode, room
from dashboard.screen import show_theme
from dashboard.sidebar import sidebar
from dashboard.warm_up import start_warm_up
from mnist_core.models import ModelFileError, load_user_models


def main() -> None:
    present = projector_mode()
    st.set_page_config(page_title="MNIST model comparison", page_icon=":material/draw:", layout="wide",
                       initial_sidebar_state="collapsed" if present else "auto")
    if present:  # before dark_theme(), which reads the room it keeps in the session
        show_theme(room())  # projector mode's room choice; outside it, the viewer's own Streamlit setting
    page_style(present, dark=dark_theme())

    navigation = st.navigation(
        navigation_pages(),
        # In projector mode the sidebar is hidden: the pages become a compact bar along the top.
        position="top" if present else "sidebar",
    )
    try:
        load_user_models()  # the operator's own models ($MNIST_MODELS), once per server
    except ModelFileError as error:
        st.error(f"{error} The built-in models work meanwhile.", icon=":material/error:")
    sidebar()
    navigation.run()
    start_warm_up()  # after the page: the first "Why?" must not wait for the training set (dashboard/warm_up.py)


# Streamlit runs this file as __main__. Training's worker processes (spawn) import the main
# module too, as __mp_main__: they must not run the app (each did, logging 44 warnings).
if __name__ == "__main__":
    main()
