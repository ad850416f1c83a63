"""Commands that touch no model start without loading one: no torch, diffusers, transformers,
huggingface_hub or LangGraph (together they take seconds to import), no Alembic once the
database's schema is current, and not even numpy or tqdm (a fifth of a second more)."""

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from editor.images import to_png_bytes
from memory import SessionStore

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ["torch", "diffusers", "transformers", "huggingface_hub", "langgraph", "alembic",
         "numpy", "tqdm"]

# Every store command, in one fresh interpreter; prints the heavy libraries each had loaded.
SCRIPT = """
import json, sys
from agent.cli import main

data, session, heavy = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
commands = [
    ["new", f"{data}/photo.png"], ["sessions"], ["history", session],
    ["show", session, "--out", f"{data}/now.png"], ["rename", session, "renamed"],
    ["undo", session], ["redo", session], ["reset", session], ["revert", session, "0"],
    ["export", session, f"{data}/session.zip"], ["import", f"{data}/session.zip"], ["gc"],
    ["delete", session],
]
loaded = {}
for command in commands:
    assert main(["--data", data, *command]) == 0, command
    loaded[command[0]] = [name for name in heavy if name in sys.modules]
print(json.dumps(loaded))
"""


def test_store_commands_load_no_model_library(tmp_path):
    photo = Image.new("RGB", (40, 40), "red")
    photo.save(tmp_path / "photo.png")
    store = SessionStore(None, tmp_path)  # the database exists before the commands run
    session = store.create_session("local", to_png_bytes(photo), "photo").id
    store.close()

    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), session, json.dumps(HEAVY)],
                         cwd=ROOT, capture_output=True, text=True, check=True)

    loaded = json.loads(run.stdout.splitlines()[-1])
    assert len(loaded) == 13 and loaded == {command: [] for command in loaded}
