"""The documentation stays true: every command is in the README, and every JSON example in
the docs has exactly the keys that the command really prints."""

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from agent.cli import build_parser, main
from editor.demo import world

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MEMORY_README = (ROOT / "memory" / "README.md").read_text()


def subcommands() -> list[str]:
    [subparsers] = [action for action in build_parser()._actions if action.dest == "command"]
    return list(subparsers.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_command_is_in_the_readme(command):
    assert re.search(rf"^pixchat {command} ", README, re.MULTILINE), f"pixchat {command}"


def documented_json(document: str, introduction: str):
    """The first ```json block after the sentence `introduction`."""
    after = document[document.index(introduction):]
    block = re.search(r"```json\n(.*?)```", after, re.DOTALL)
    return json.loads(block.group(1))


def shape(value):
    """The keys of every object in `value`, at every depth (lists item by item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return None


@pytest.fixture(scope="module")
def printed(tiny_model, tmp_path_factory) -> dict:
    """What `--json` prints for a session with one local edit, as the docs' examples have."""
    folder = tmp_path_factory.mktemp("docs")
    scene = world.Scene("white", (world.Shape("circle", "red", 9, 9, 6),))
    world.render_image(scene).save(folder / "scene.png")

    def run(*args: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["--data", str(folder), *args]) == 0
        return out.getvalue()

    session = run("new", str(folder / "scene.png")).splitlines()[-1]
    model = ["--model", str(tiny_model)]
    return {
        "say": json.loads(run("say", session, "make the circle blue", *model, "--json")),
        "interpret": json.loads(run("interpret", "could you make it winter?", *model, "--json")),
        "sessions": json.loads(run("sessions", "--json")),
        "history": json.loads(run("history", session, "--json")),
    }


@pytest.mark.parametrize("command, document, introduction", [
    ("say", README, "`pixchat say SESSION TEXT --json` prints"),
    ("interpret", README, "`pixchat interpret TEXT --json` prints"),
    ("sessions", MEMORY_README, "`pixchat sessions --json` prints"),
    ("history", MEMORY_README, "`pixchat history SESSION --json` prints"),
])
def test_documented_json_has_the_keys_of_real_output(printed, command, document, introduction):
    assert shape(documented_json(document, introduction)) == shape(printed[command])
