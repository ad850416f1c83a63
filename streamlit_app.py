"""Entry point of the pixchat app: `streamlit run streamlit_app.py` (or `make run`)."""

import streamlit as st

st.set_page_config(page_title="pixchat", page_icon="🖼️")
st.title("pixchat")
st.write(
    "A conversational image editor. The chat page is being built; meanwhile the `pixchat` "
    "command line edits images and keeps every step of a session."
)
