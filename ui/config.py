"""How the app is configured: command-line options after `--`, else environment variables.

    streamlit run streamlit_app.py -- --model ip2p --interpreter vlm:HuggingFaceTB/SmolVLM-Instruct
    streamlit run streamlit_app.py -- --model kontext --objects sam-inpaint
    PIXCHAT_MODEL=ip2p PIXCHAT_DATA=/srv/pixchat streamlit run streamlit_app.py
    streamlit run streamlit_app.py -- --serve-many --login header:X-Forwarded-Email \
        --editor-url http://127.0.0.1:8000/editor --db postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AppConfig:
    model: str  # editor model: demo, ip2p, magicbrush, a hub id or a folder
    interpreter: str  # rules, or vlm:<hub id or folder>
    db: str | None  # SQLAlchemy URL of the session store (None: SQLite in the data folder)
    data: str | None  # folder of the database and the image files (None: ~/.pixchat)
    owner: str  # whose sessions the app shows when there is no login
    objects: str | None = None  # a grounded model for "replace/remove the X" (sam-inpaint)
    editor_url: str | None = None  # the editor service (editor/serve.py); None: in process
    login: str = "none"  # none, oidc or header:NAME (ui/login.py)
    serve_many: bool = False  # serves several people: a login is required


def read_config(argv: Sequence[str]) -> AppConfig:
    """The app's configuration from `argv` (the arguments after `--`) and the environment."""
    parser = argparse.ArgumentParser(prog="streamlit run streamlit_app.py --", allow_abbrev=False)
    parser.add_argument("--model", default=os.environ.get("PIXCHAT_MODEL", "demo"))
    parser.add_argument("--interpreter", default=os.environ.get("PIXCHAT_INTERPRETER", "rules"))
    parser.add_argument("--db", default=os.environ.get("PIXCHAT_DB"))
    parser.add_argument("--data", default=os.environ.get("PIXCHAT_DATA"))
    parser.add_argument("--owner", default=os.environ.get("PIXCHAT_OWNER", "local"))
    parser.add_argument("--objects", default=os.environ.get("PIXCHAT_OBJECTS"))
    parser.add_argument("--editor-url", default=os.environ.get("PIXCHAT_EDITOR_URL"))
    parser.add_argument("--login", default=os.environ.get("PIXCHAT_LOGIN", "none"))
    parser.add_argument("--serve-many", action="store_true",
                        default=os.environ.get("PIXCHAT_MULTI_USER", "") not in ("", "0"))
    known, _ = parser.parse_known_args(argv)  # Streamlit and test runners add their own
    return AppConfig(known.model, known.interpreter, known.db, known.data, known.owner,
                     known.objects, known.editor_url, known.login, known.serve_many)
