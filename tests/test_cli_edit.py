"""`pixchat edit` and `pixchat grid` on a tiny random InstructPix2Pix."""

import numpy as np
import pytest
from huggingface_hub import constants
from PIL import Image

from agent.cli import main
from editor.models import KNOWN_MODELS, KnownModel


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    pixels = np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache, so hub models are certainly missing."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))


def edit(photo, model, out, *options):
    return main(
        ["edit", str(photo), "make the sky red", "--model", str(model), "--out", str(out), *options]
    )


def test_edit_writes_the_result_at_the_input_size_with_a_progress_bar(
    tiny_model, photo, tmp_path, capsys
):
    out = tmp_path / "edited.png"
    options = ["--s-t", "2.5", "--s-i", "1.2", "--seed", "11", "--steps", "3"]
    assert edit(photo, tiny_model, out, *options) == 0
    captured = capsys.readouterr()
    assert "3/3" in captured.err  # the tqdm bar, finished
    assert "s_T 2.5, s_I 1.2, seed 11, 3 steps" in captured.out
    first = Image.open(out)
    assert first.size == (90, 60)

    again = tmp_path / "again.png"
    assert edit(photo, tiny_model, again, *options) == 0
    assert np.array_equal(np.asarray(first), np.asarray(Image.open(again)))


def test_edit_without_a_seed_prints_the_one_it_chose(tiny_model, photo, tmp_path, capsys):
    assert edit(photo, tiny_model, tmp_path / "a.png") == 0
    seed = capsys.readouterr().out.split("seed ")[1].split(",")[0]
    assert edit(photo, tiny_model, tmp_path / "b.png", "--seed", seed) == 0
    first, replay = Image.open(tmp_path / "a.png"), Image.open(tmp_path / "b.png")
    assert np.array_equal(np.asarray(first), np.asarray(replay))


def test_grid_writes_a_contact_sheet(tiny_model, photo, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    command = ["grid", str(photo), "make the sky red", "--model", str(tiny_model)]
    assert (
        main([*command, "--s-t", "1,3", "--s-i", "0.5,1,2", "--seed", "1", "--out", str(out)]) == 0
    )
    captured = capsys.readouterr()
    assert "rows s_T 1, 3; columns s_I 0.5, 1, 2; seed 1" in captured.out
    assert "4/4" in captured.err
    # 3 columns and 2 rows of 256×176 cells (the 3:2 photo at the working size 32×22), labels.
    width, height = Image.open(out).size
    assert 3 * 256 < width < 3 * 256 + 100 and 2 * 176 < height < 2 * 176 + 100


def test_grid_rejects_a_scale_list_that_is_not_numbers(tiny_model, photo, capsys):
    with pytest.raises(SystemExit):
        main(["grid", str(photo), "make it red", "--model", str(tiny_model), "--s-t", "5,lots"])
    assert "like 5,7.5,10" in capsys.readouterr().err


def test_missing_model_falls_back_to_demo_and_says_so(
    tiny_model, photo, tmp_path, capsys, monkeypatch, offline_hub
):
    monkeypatch.setitem(KNOWN_MODELS, "demo", KnownModel(str(tiny_model), {}, "train it"))
    out = tmp_path / "edited.png"
    assert edit(photo, "ip2p", out, "--seed", "1") == 0
    err = capsys.readouterr().err
    assert "Model 'ip2p' (timbrooks/instruct-pix2pix)" in err
    assert "demo model instead." in err
    assert out.exists()


def test_without_any_model_the_error_is_one_line(photo, tmp_path, capsys, monkeypatch, offline_hub):
    monkeypatch.setitem(KNOWN_MODELS, "demo", KnownModel(str(tmp_path / "gone"), {}, "train it"))
    out = tmp_path / "edited.png"
    assert edit(photo, "ip2p", out) == 1
    err = capsys.readouterr().err
    # The person hears about the model they asked for, not about the missing fallback.
    assert err.splitlines()[-1].startswith("error: Model 'ip2p'")
    assert "Traceback" not in err
    assert not out.exists()


def test_bad_inputs_end_in_one_sentence_and_write_nothing(tiny_model, photo, tmp_path, capsys):
    out = tmp_path / "edited.png"
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    assert edit(not_an_image, tiny_model, out) == 1
    assert "error: notes.png is not an image" in capsys.readouterr().err

    assert main(["edit", str(photo), " ", "--model", str(tiny_model), "--out", str(out)]) == 1
    assert "error: The instruction is empty" in capsys.readouterr().err

    assert edit(photo, tiny_model, tmp_path / "edited.unknown") == 1
    assert "choose another --out path" in capsys.readouterr().err
    assert list(tmp_path.glob("edited*")) == []


def half_mask(path, size):
    """A mask whose left half is white: only there may the edit change the picture."""
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, size[0] // 2, size[1]))
    mask.save(path)
    return path


def test_edit_with_a_mask_changes_only_where_it_is_white(tiny_model, photo, tmp_path):
    out = tmp_path / "masked.png"
    mask = half_mask(tmp_path / "mask.png", (180, 120))  # the photo's shape, twice its size
    assert edit(photo, tiny_model, out, "--seed", "1", "--mask", str(mask)) == 0
    before, after = np.asarray(Image.open(photo)), np.asarray(Image.open(out))
    assert np.array_equal(after[:, 45:], before[:, 45:])
    assert not np.array_equal(after[:, :45], before[:, :45])


@pytest.mark.parametrize("content, words", [
    (b"not a picture", "is not an image pixchat can read"),
    ("wide", "draw the mask over the image"),
    ("black", "all black"),
])
def test_an_unusable_mask_is_one_sentence_and_writes_nothing(
    tiny_model, photo, tmp_path, capsys, content, words
):
    mask = tmp_path / "mask.png"
    if content == "wide":
        half_mask(mask, (300, 60))
    elif content == "black":
        Image.new("L", (90, 60), 0).save(mask)
    else:
        mask.write_bytes(content)
    out = tmp_path / "out.png"
    assert edit(photo, tiny_model, out, "--mask", str(mask)) != 0
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()
