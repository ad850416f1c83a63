"""The training script's parts that a long run depends on: repeatable batches from both
worlds, a schedule that resumes where it stopped, model cards from their templates, and a
model folder the editor loads."""

import argparse
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from editor.base import EditRequest
from editor.demo import photos, train
from editor.demo.reproduce import RECIPES, stages
from editor.pix2pix import Pix2PixEditor


def options(**overrides) -> argparse.Namespace:
    return argparse.Namespace(**{"device": "cpu", "shape_weight": 4.0, "favour": [],
                                 **overrides})


def test_both_worlds_give_repeatable_batches_of_pipeline_images():
    for world in train.WORLDS.values():
        batch = world.batch(0, 2, 17, 4, options())
        again = world.batch(0, 2, 17, 4, options())
        assert batch.before.shape == batch.after.shape == (4, 3, world.size, world.size)
        assert -1 <= batch.before.min() and batch.after.max() <= 1
        assert batch.instructions == again.instructions
        assert torch.equal(batch.after, again.after)
        assert not torch.equal(batch.after, world.batch(0, 2, 18, 4, options()).after)
    assert train.WORLDS["photos"].batch(0, 2, 0, 4, options()).weights is None


def test_favoured_photo_kinds_are_drawn_more_often():
    def share(examples: list[photos.Example]) -> float:
        return sum(example.kind == "warmer" for example in examples) / len(examples)

    favoured = photos.training_examples(0, 600, kinds=(*photos.KINDS, "warmer", "warmer"))
    assert share(favoured) > 2 * share(photos.training_examples(0, 600))
    arguments = train.parse_args(["--out", "run", "--favour", "warmer", "more saturated"])
    assert arguments.favour == ["warmer", "more saturated"]


def test_a_resumed_schedule_continues_at_the_same_learning_rate():
    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer, schedule = train.optimizer_and_schedule([parameter], 1e-3, 10, 100, {}, "unet")
    for _ in range(30):
        optimizer.step()
        schedule.step()
    state: dict = {}
    train.remember(state, "unet", optimizer, schedule)
    expected = schedule.get_last_lr()[0]

    again = torch.nn.Parameter(torch.zeros(3))
    optimizer, schedule = train.optimizer_and_schedule([again], 1e-3, 10, 100, state, "unet")
    assert optimizer.param_groups[0]["lr"] == expected
    assert 0 < expected < 1e-3  # past the warm-up, on its way down


def test_model_cards_come_from_each_world_s_template():
    training = {"vae_step": 1200, "unet_step": 5000, "vae_error": 0.04, "wall_seconds": 600,
                "commands": ["python -m editor.demo.train --world photos --out runs/photo"],
                "metrics": {"to_truth": {"sepia": 0.02}, "nothing_to_truth": {"sepia": 0.11}}}
    settings = {"text_scale": 1.5, "image_scale": 1.5, "steps": 20, "size": 32,
                "scheduler": "euler_ancestral", "render_unedited": True, "colour_only": True}
    card = train.model_card(train.WORLDS["photos"], training, settings)
    assert card.startswith("# pixchat demo-photo model")
    assert "    python -m editor.demo.train --world photos" in card
    assert "| sepia | 0.020 | 0.110 |" in card and "5000 steps" in card
    assert "`render_unedited` = True" in card and "`colour_only` = True" in card
    assert train.model_card(train.WORLDS["shapes"], training, settings).startswith(
        "# pixchat demo model")


def test_each_reproduction_stage_starts_from_the_one_before():
    for name in RECIPES:
        recipe = stages(name)
        for (previous, ended_at), (arguments, ends_at) in zip(recipe, recipe[1:], strict=False):
            resume = Path(arguments[arguments.index("--resume") + 1])
            run = Path(previous[previous.index("--out") + 1])
            steps = train.parse_args(arguments).steps
            if resume == run:  # the same run continued: --steps is the step to end at
                assert ends_at == steps
            else:  # the model it ended with: a fresh optimizer, --steps more steps
                assert resume == run / "model"
                assert ends_at == ended_at + steps
    assert [ends_at for _, ends_at in stages("photos")] == [10000, 18000, 24000, 32000, 44000,
                                                           56000, 64000, 74000]


def test_a_short_photo_run_gives_a_model_the_editor_loads_and_edits_with(tmp_path, capfd):
    train.main(["--world", "photos", "--out", str(tmp_path), "--vae-steps", "3",
                "--steps", "3", "--batch-size", "2", "--save-every", "3",
                "--eval-every", "1000", "--threads", "1"])
    capfd.readouterr()
    editor = Pix2PixEditor.from_pretrained(str(tmp_path / "model"))
    assert "were passed to" not in capfd.readouterr().err  # the folder loads without warnings
    assert type(editor.vae).__name__ == "AutoencoderTiny"
    assert editor.defaults.size == photos.SIZE  # latents at the image's own size
    photo = photos.held_out_photo("flower.jpg")
    result = editor.edit(EditRequest(image=photo, instruction="make it sepia", steps=2))
    assert result.image.size == (16, 11)  # the photo's aspect at 16 px: any width works


def test_a_refitted_autoencoder_trains_again_and_the_unet_carries_on(tmp_path):
    common = ["--world", "photos", "--batch-size", "2", "--save-every", "3",
              "--eval-every", "1000", "--threads", "1"]
    first, refitted = tmp_path / "first", tmp_path / "refitted"
    train.main([*common, "--out", str(first), "--vae-steps", "3", "--steps", "3"])
    train.main([*common, "--out", str(refitted), "--resume", str(first / "model"),
                "--refit-vae", "--random-colours", "0.5", "--vae-steps", "2", "--steps", "2"])
    training = json.loads((refitted / "model" / "training.json").read_text())
    assert (training["vae_step"], training["unet_step"]) == (2, 5)  # 3 UNet steps, then 2
    assert "--refit-vae" in training["commands"][-1]
    old, new = (load_file(folder / "model" / "vae" / "diffusion_pytorch_model.safetensors")
                for folder in (first, refitted))
    assert any(not torch.equal(old[name], new[name]) for name in old)
    with pytest.raises(SystemExit, match="--refit-vae needs --resume with a model folder"):
        train.main([*common, "--out", str(tmp_path / "fresh"), "--refit-vae"])
