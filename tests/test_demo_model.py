"""The shipped demo model (editor/demo/model): it loads everywhere and really edits.

Every number is a mean over 8 fixed held-out edits and two fixed seeds (at the model's
recommended s_T), so the checks are stable; they run the real model on the CPU.
"""

import json

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionInstructPix2PixPipeline

from editor import EditRequest, load_editor
from editor.demo import quality, world
from editor.models import DEMO_MODEL_DIR

KINDS = ("recolour", "remove", "background", "darken", "brighten")  # what the model learned
EDITS = world.held_out_edits(8, KINDS)
SEEDS = (0, 1)
IMAGE_SCALES = (1.0, 1.5, 2.5)


@pytest.fixture(scope="module")
def editor():
    return load_editor("demo")


@pytest.fixture(scope="module")
def grid_scores(editor) -> dict[float, list[quality.Score]]:
    """Scores at the recommended s_T and each s_I (IMAGE_SCALES and the recommended one)."""
    image_scales = sorted({*IMAGE_SCALES, editor.defaults.image_scale})
    scores: dict[float, list[quality.Score]] = {image_scale: [] for image_scale in image_scales}
    for edit in EDITS:
        for seed in SEEDS:
            request = EditRequest(world.render_image(edit.before), edit.instruction, seed=seed)
            [row] = editor.grid(request, [editor.defaults.text_scale], image_scales).results
            for cell in row:
                scores[cell.image_scale].append(quality.score(edit, np.asarray(cell.image)))
    return scores


def mean(scores: list[quality.Score], field: str) -> float:
    return float(np.mean([getattr(score, field) for score in scores]))


def test_the_model_folder_is_small_and_recommends_its_settings(editor):
    settings = json.loads((DEMO_MODEL_DIR / "pixchat.json").read_text())
    size = sum(path.stat().st_size for path in DEMO_MODEL_DIR.rglob("*") if path.is_file())

    assert size < 10_000_000
    assert settings["steps"] == 20 and settings["size"] == world.SIZE
    assert (editor.defaults.text_scale, editor.defaults.image_scale) == (
        settings["text_scale"], settings["image_scale"])
    assert editor.defaults.scheduler == settings.get("scheduler", "euler_ancestral")
    card = (DEMO_MODEL_DIR / "README.md").read_text()
    assert "python -m editor.demo.train" in card and "doing nothing" in card


def test_diffusers_pipeline_loads_it_and_its_edits_beat_doing_nothing(editor):
    pipeline = StableDiffusionInstructPix2PixPipeline.from_pretrained(DEMO_MODEL_DIR)
    pipeline.set_progress_bar_config(disable=True)

    outputs = pipeline(
        prompt=[edit.instruction for edit in EDITS],
        image=[world.render_image(edit.before) for edit in EDITS],
        num_inference_steps=20,
        guidance_scale=editor.defaults.text_scale,
        image_guidance_scale=editor.defaults.image_scale,
        generator=torch.Generator().manual_seed(0),
    ).images
    scores = [quality.score(e, np.asarray(out)) for e, out in zip(EDITS, outputs, strict=True)]

    assert outputs[0].size == (world.SIZE, world.SIZE)
    assert mean(scores, "to_truth") < mean(scores, "nothing_to_truth")


def test_our_editor_at_the_recommended_scales_beats_doing_nothing(editor, grid_scores):
    scores = grid_scores[editor.defaults.image_scale]

    assert mean(scores, "to_truth") < mean(scores, "nothing_to_truth")


def test_raising_the_image_scale_keeps_the_result_closer_to_the_input(grid_scores):
    to_input = [mean(grid_scores[image_scale], "to_input") for image_scale in IMAGE_SCALES]

    assert to_input[0] > to_input[1] > to_input[2]


def test_with_no_pull_from_the_instruction_the_picture_stays_as_it_was(editor):
    """s_T = 0 ignores the instruction; the model was taught that no instruction means no
    change, so the output stays near the input (the VAE round trip alone costs about 0.01;
    before that training the model drifted 0.033 on average)."""
    kept, edited = [], []
    for edit in EDITS:
        request = EditRequest(world.render_image(edit.before), edit.instruction, seed=0)
        [[no_pull], [pulled]] = editor.grid(
            request, [0.0, editor.defaults.text_scale], [editor.defaults.image_scale]).results
        kept.append(quality.score(edit, np.asarray(no_pull.image)).to_input)
        edited.append(quality.score(edit, np.asarray(pulled.image)).to_input)

    assert np.mean(kept) < 0.02
    assert all(k < e for k, e in zip(kept, edited, strict=True))
