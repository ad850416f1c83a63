"""`pixchat say` and `pixchat interpret`: the agent's turn from the command line."""

import io
import json

import pytest
from PIL import Image

from agent.cli import main


@pytest.fixture
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture
def pixchat(tmp_path, capsys):
    """Run `pixchat --data tmp_path ARGS`; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data", str(tmp_path), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def session(pixchat, tmp_path):
    path = tmp_path / "scene.png"
    Image.new("RGB", (40, 40), (38, 64, 242)).save(path)
    code, out, _ = pixchat("new", str(path))
    assert code == 0
    return out.strip().splitlines()[-1]


def test_an_unclear_message_is_a_question_with_answers_to_type(pixchat, session, model):
    assert pixchat("say", session, "make it snowy", "--model", model)[0] == 0
    code, out, _ = pixchat("say", session, "hmm, not quite", "--model", model)
    assert code == 0
    assert "?" in out.splitlines()[0] and out.count("?") == out.splitlines()[0].count("?")
    assert "  1. undo" in out and "  3. show me options" in out
    code, out, _ = pixchat("say", session, "hmm, not quite", "--model", model, "--json")
    assert json.loads(out)["choices"] == ["undo", "again", "show me options"]
    code, out, _ = pixchat("history", session, "--json")
    assert len(json.loads(out)["nodes"]) == 2  # nothing was edited


def test_say_runs_a_turn_and_prints_json(pixchat, session, model):
    code, out, err = pixchat("say", session, "make it snowy", "--model", model, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["command"]["action"] == "edit" and result["changed"] is True
    assert result["node_id"] > 0 and "drift_parent" in result["metrics"]
    assert "editing" in err  # the progress bar

    code, out, _ = pixchat("say", session, "undo", "--model", model)
    assert code == 0 and "back" in out.lower()
    code, out, _ = pixchat("history", session, "--json")
    history = json.loads(out)
    assert len(history["nodes"]) == 2


def test_say_options_with_pick(pixchat, session, model, tmp_path):
    pixchat("say", session, "make it snowy", "--model", model)
    sheet = tmp_path / "sheet.png"
    code, out, err = pixchat("say", session, "show me options", "--model", model,
                             "--pick", "2", "--sheet", str(sheet), "--json")
    assert code == 0 and json.loads(out)["changed"] is True
    assert Image.open(sheet).width > 3 * 32 and "9. s_T" in err
    assert f"drawn on {sheet}" in err  # says where the file went


class Keyboard(io.StringIO):
    """A terminal on stdin where the person types `typed`."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stdin", [io.StringIO(""), Keyboard("\n")],
                         ids=["stdin-not-a-terminal", "enter-at-the-prompt"])
def test_say_options_with_none_chosen_keeps_the_image(
    pixchat, session, model, tmp_path, monkeypatch, stdin
):
    pixchat("say", session, "make it snowy", "--model", model)
    monkeypatch.setattr("sys.stdin", stdin)
    monkeypatch.chdir(tmp_path)
    code, out, err = pixchat("say", session, "show me options", "--model", model, "--json")
    result = json.loads(out)
    assert code == 0 and result["changed"] is False
    assert result["reply"].startswith("Kept the image as it was")
    code, out, _ = pixchat("history", session, "--json")
    assert len(json.loads(out)["nodes"]) == 2
    # No file appears unasked; the person is told how to get the sheet.
    assert not (tmp_path / "options.png").exists()
    assert "add --sheet FILE.png" in err and "9. s_T" in err


def test_missing_model_falls_back_to_demo_and_says_so(pixchat, session, tmp_path):
    code, out, err = pixchat("interpret", "make it winter", "--model", str(tmp_path / "nope"))
    assert code == 0 and "demo model instead" in err


def test_interpret_prints_the_command(pixchat, model):
    code, out, _ = pixchat("interpret", "could you please make it winter?", "--model", model,
                           "--json")
    command = json.loads(out)
    assert code == 0 and command["action"] == "edit" and command["instruction"] == "make it winter"


def test_unknown_interpreter_and_session_are_one_sentence(pixchat, session, model):
    code, _, err = pixchat("interpret", "make it winter", "--model", model,
                           "--interpreter", "gpt")
    assert code == 1 and err.startswith("error: Unknown interpreter") and "Traceback" not in err
    code, _, err = pixchat("say", "no-such-session", "make it winter", "--model", model)
    assert code == 1 and err.count("\n") == 1


def test_at_a_terminal_the_answer_picked_runs_as_the_next_turn(pixchat, session, model,
                                                              monkeypatch):
    assert pixchat("say", session, "make it snowy", "--model", model)[0] == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "1")  # "undo"
    code, out, err = pixchat("say", session, "hmm", "--model", model)
    assert code == 0 and "  1. undo" in err
    assert out.startswith("Going back one step.")
    code, out, _ = pixchat("history", session, "--json")
    history = json.loads(out)
    assert history["session"]["head_id"] == history["session"]["root_id"]


def test_say_with_a_mask_keeps_the_rest_of_the_picture(pixchat, session, model, tmp_path):
    mask = tmp_path / "mask.png"
    left = Image.new("L", (40, 40), 0)
    left.paste(255, (0, 0, 20, 40))
    left.save(mask)
    code, _, err = pixchat("say", session, "make the circle red", "--model", model,
                           "--mask", str(mask), "--seed", "2")
    assert code == 0, err
    out = tmp_path / "now.png"
    assert pixchat("show", session, "--out", str(out))[0] == 0
    now = Image.open(out).convert("RGB")
    assert all(now.getpixel((x, y)) == (38, 64, 242) for x in range(20, 40) for y in range(40))


def test_say_with_a_mask_for_a_restyle_is_refused_in_one_sentence(pixchat, session, model,
                                                                  tmp_path):
    mask = tmp_path / "mask.png"
    left = Image.new("L", (40, 40), 0)
    left.paste(255, (0, 0, 20, 40))
    left.save(mask)
    code, _, err = pixchat("say", session, "make it a snowy winter scene", "--model", model,
                           "--mask", str(mask))
    assert code != 0 and "restyles the whole picture" in err and "Traceback" not in err
    _, out, _ = pixchat("history", session, "--json")
    assert len(json.loads(out)["nodes"]) == 1
