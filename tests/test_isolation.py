"""The suite never touches a developer's own sessions, whatever PIXCHAT_* settings they have."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_suite_ignores_the_developers_pixchat_settings(tmp_path):
    own = tmp_path / "own"  # where the developer's sessions are
    settings = {"PIXCHAT_DB": f"sqlite:///{own}/pixchat.db", "PIXCHAT_DATA": str(own),
                "PIXCHAT_BLOBS": "table", "PIXCHAT_OWNER": "developer"}
    # A store test that opens SessionStore(None, folder) and runs `pixchat --data folder`.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_cli_startup.py"],
        cwd=ROOT, env={**os.environ, **settings}, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert not own.exists()
