"""The pixchat app (Streamlit): `streamlit_app.py` at the root calls `ui.app.main`."""
