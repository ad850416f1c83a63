"""Entry point of the pixchat app: `streamlit run streamlit_app.py [-- --model M]`."""

from ui.app import main

main()
