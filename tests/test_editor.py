"""The dual-guidance editor on a tiny random InstructPix2Pix, checked against diffusers."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from diffusers import (
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    StableDiffusionInstructPix2PixPipeline,
)
from huggingface_hub import constants
from PIL import Image
from tiny_models import TINY_SETTINGS, build_tiny_pix2pix

from editor import (
    Cancelled,
    EditorError,
    EditRequest,
    ModelDefaults,
    ModelNotFound,
    Pix2PixEditor,
    load_editor,
    resize_to,
    working_size,
)
from editor.composite import compose
from editor.grid import default_grid_scales, scale_label
from editor.remote import result_from_json, result_to_json

INSTRUCTION = "make the sky red"


@pytest.fixture(scope="module")
def editor(tiny_model):
    return Pix2PixEditor.from_pretrained(str(tiny_model), device="cpu")


@pytest.fixture(scope="module")
def pipeline(tiny_model):
    pipeline = StableDiffusionInstructPix2PixPipeline.from_pretrained(tiny_model)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture
def image():
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def run_pipeline(pipeline, image, text_scale, image_scale, *, steps=5, seed=7, output_type="pt"):
    return pipeline(
        INSTRUCTION,
        image=image,
        num_inference_steps=steps,
        guidance_scale=text_scale,
        image_guidance_scale=image_scale,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type=output_type,
    ).images


def run_editor(
    editor, image, text_scale, image_scale, *, steps=5, seed=7, scheduler="euler_ancestral"
):
    """The editor's float output, before rounding to 8 bits."""
    text_embeddings = editor.encode_instruction(INSTRUCTION)
    image_latents = editor.encode_image(image, image.size)
    latents, _ = editor.denoise(
        text_embeddings,
        image_latents,
        [(text_scale, image_scale)],
        steps=steps,
        seed=seed,
        scheduler=scheduler,
    )
    return editor.decode(latents)


@pytest.mark.parametrize("scheduler", ["euler_ancestral", "dpmpp_2m", "euler"])
def test_matches_the_diffusers_pipeline_where_it_applies_guidance(
    editor, pipeline, image, scheduler, monkeypatch
):
    if scheduler == "dpmpp_2m":
        dpm = DPMSolverMultistepScheduler.from_config(
            pipeline.scheduler.config, algorithm_type="dpmsolver++", solver_order=2
        )
        monkeypatch.setattr(pipeline, "scheduler", dpm)
    if scheduler == "euler":
        euler = EulerDiscreteScheduler.from_config(pipeline.scheduler.config)
        monkeypatch.setattr(pipeline, "scheduler", euler)
    expected = run_pipeline(pipeline, image, 4.5, 1.5)
    ours = run_editor(editor, image, 4.5, 1.5, scheduler=scheduler)
    assert expected.std() > 0.05  # a real image, not a constant
    assert (ours - expected).abs().max().item() < 1e-4

    expected_png = run_pipeline(pipeline, image, 4.5, 1.5, output_type="pil")[0]
    result = editor.edit(EditRequest(image, INSTRUCTION, 4.5, 1.5, 5, 7, scheduler))
    assert np.abs(pixels(result.image) - pixels(expected_png)).max() <= 1


def test_image_scale_below_one_is_still_guided(editor, pipeline, image):
    # With s_T = s_I = 1 the combination is the single conditional pass, which is all
    # the pipeline computes when s_I < 1.
    single_pass = run_pipeline(pipeline, image, 3.0, 0.5)
    assert (run_editor(editor, image, 1.0, 1.0) - single_pass).abs().max().item() < 1e-4
    guided = run_editor(editor, image, 3.0, 0.5)
    assert (guided - single_pass).abs().max().item() > 0.05


def test_equal_scales_skip_the_image_only_prediction_and_still_match_diffusers(
    editor, pipeline, image, monkeypatch
):
    # At s_T = s_I the image-only prediction has weight 0: a third of the UNet work is saved
    # on every step but the first, whose relevance map (the edit mask) needs it.
    batch_sizes = []
    forward = editor.unet.forward

    def recording(sample, *args, **kwargs):
        batch_sizes.append(sample.shape[0])
        return forward(sample, *args, **kwargs)

    monkeypatch.setattr(editor.unet, "forward", recording)
    ours = run_editor(editor, image, 1.5, 1.5)
    assert batch_sizes == [3] + [2] * 4
    assert (ours - run_pipeline(pipeline, image, 1.5, 1.5)).abs().max().item() < 1e-4


def test_same_seed_same_pixels_and_a_random_seed_is_returned(editor, image):
    first = editor.edit(EditRequest(image, INSTRUCTION, seed=3))
    again = editor.edit(EditRequest(image, INSTRUCTION, seed=3))
    other = editor.edit(EditRequest(image, INSTRUCTION, seed=4))
    assert np.array_equal(pixels(first.image), pixels(again.image))
    assert not np.array_equal(pixels(first.image), pixels(other.image))

    unseeded = editor.edit(EditRequest(image, INSTRUCTION))
    replay = editor.edit(EditRequest(image, INSTRUCTION, seed=unseeded.seed))
    assert np.array_equal(pixels(unseeded.image), pixels(replay.image))


def test_loading_a_model_prints_no_warning_a_person_cannot_act_on(tiny_model):
    # In a fresh process: diffusers warns once per process, and logs past pytest's capture.
    load = f"from editor import load_editor; load_editor({str(tiny_model)!r}, device='cpu')"
    run = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True,
                         check=True)
    assert "low_cpu_mem_usage" not in run.stderr and "accelerate" not in run.stderr


def test_result_records_how_to_reproduce_it(editor, tiny_model, image):
    result = editor.edit(EditRequest(image, INSTRUCTION, seed=1))
    assert (result.text_scale, result.image_scale, result.steps) == (3.0, 1.5, 4)
    assert result.model_id == str(tiny_model)
    assert (result.scheduler, result.seed, result.device, result.dtype) == (
        "euler_ancestral",
        1,
        "cpu",
        "float32",
    )
    assert (result.width, result.height) == result.image.size == (32, 32)
    assert set(result.timings) == {"encode", "denoise", "decode", "total"}


def test_defaults_come_from_pixchat_json_else_ip2p_at_native_size(tmp_path, editor):
    assert editor.defaults == ModelDefaults(**TINY_SETTINGS)
    bare = build_tiny_pix2pix(tmp_path, settings=None)
    assert load_editor(str(bare)).defaults == ModelDefaults(7.5, 1.5, 20, 32)


def test_zero_scales_are_legal_and_differ_from_the_defaults(editor, image):
    unguided = editor.edit(EditRequest(image, INSTRUCTION, 0.0, 0.0, seed=2))
    default = editor.edit(EditRequest(image, INSTRUCTION, seed=2))
    assert (unguided.text_scale, unguided.image_scale) == (0.0, 0.0)
    assert not np.array_equal(pixels(unguided.image), pixels(default.image))


def test_dpm_solver_is_an_option(editor, image):
    euler = editor.edit(EditRequest(image, INSTRUCTION, seed=5))
    dpm = editor.edit(EditRequest(image, INSTRUCTION, seed=5, scheduler="dpmpp_2m"))
    assert dpm.scheduler == "dpmpp_2m"
    assert not np.array_equal(pixels(euler.image), pixels(dpm.image))


def test_a_model_names_its_sampler_and_a_request_can_override_it(
    tmp_path, tiny_model, editor, image
):
    folder = shutil.copytree(tiny_model, tmp_path / "dpm")  # the same weights as `editor`
    (folder / "pixchat.json").write_text(json.dumps({**TINY_SETTINGS, "scheduler": "dpmpp_2m"}))
    dpm_model = load_editor(str(folder))
    by_default = dpm_model.edit(EditRequest(image, INSTRUCTION, seed=5))
    asked_for = editor.edit(EditRequest(image, INSTRUCTION, seed=5, scheduler="dpmpp_2m"))
    assert by_default.scheduler == "dpmpp_2m"
    assert np.array_equal(pixels(by_default.image), pixels(asked_for.image))
    euler = dpm_model.edit(EditRequest(image, INSTRUCTION, seed=5, scheduler="euler_ancestral"))
    assert euler.scheduler == "euler_ancestral"

    (folder / "pixchat.json").write_text('{"scheduler": "ddim"}')
    with pytest.raises(EditorError, match="unknown scheduler 'ddim'.*euler_ancestral") as raised:
        load_editor(str(folder))
    assert one_sentence(str(raised.value))


def test_a_model_that_renders_unedited_composes_from_its_own_no_edit_rendering(
    tmp_path, tiny_model, editor, image
):
    folder = shutil.copytree(tiny_model, tmp_path / "unedited")  # the same weights as `editor`
    (folder / "pixchat.json").write_text(json.dumps({**TINY_SETTINGS, "render_unedited": True}))
    model = load_editor(str(folder))
    result = model.edit(EditRequest(image, INSTRUCTION, seed=5))
    plain = editor.edit(EditRequest(image, INSTRUCTION, seed=5))
    no_edit = editor.edit(EditRequest(image, INSTRUCTION, text_scale=0.0, seed=5))
    # The edit is the same; what it is composed from is the no-edit rendering from its noise.
    assert np.abs(pixels(result.image) - pixels(plain.image)).max() <= 1
    assert np.abs(pixels(result.seen) - pixels(no_edit.image)).max() <= 1
    assert np.abs(pixels(result.seen) - pixels(plain.seen)).mean() > 5  # not the round trip
    # s_T = 0 asks for no edit, and composed it gives the picture back exactly.
    unedited = model.edit(EditRequest(image, INSTRUCTION, text_scale=0.0, seed=5))
    assert np.array_equal(np.asarray(compose(image, unedited).image), np.asarray(image))


def test_a_colour_only_model_marks_its_results_for_the_composite(
    tmp_path, tiny_model, editor, image
):
    folder = shutil.copytree(tiny_model, tmp_path / "colour-only")
    (folder / "pixchat.json").write_text(json.dumps({**TINY_SETTINGS, "colour_only": True}))
    result = load_editor(str(folder)).edit(EditRequest(image, INSTRUCTION, seed=5))
    assert result.colour_only and not editor.edit(EditRequest(image, INSTRUCTION)).colour_only
    assert result_from_json(result_to_json(result)).colour_only  # a served model's too


def test_long_side_goes_to_working_size_without_cropping(editor):
    wide = Image.new("RGB", (200, 120), "skyblue")
    result = editor.edit(EditRequest(wide, INSTRUCTION, seed=0))
    assert result.image.size == (result.width, result.height) == (32, 20)
    assert resize_to(result.image, wide.size).size == wide.size
    assert working_size((1024, 768), 512, 8) == (512, 384)
    assert working_size((333, 1000), 512, 8) == (168, 512)
    # A thin banner is stretched to a quarter of the long side, then resized back.
    assert working_size((4000, 10), 512, 8) == (512, 128)
    assert working_size((100, 4000), 32, 2) == (8, 32)


def test_progress_callback_sees_every_step(editor, image):
    calls = []
    editor.edit(EditRequest(image, INSTRUCTION, steps=3, on_step=lambda *step: calls.append(step)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_callback_returning_false_cancels(editor, image):
    calls = []

    def stop_after_two(step, total):
        calls.append(step)
        return step < 2

    with pytest.raises(Cancelled, match="step 2 of 4"):
        editor.edit(EditRequest(image, INSTRUCTION, on_step=stop_after_two))
    assert calls == [1, 2]


def test_grid_has_a_cell_per_scale_pair_and_a_labelled_sheet(editor, image, monkeypatch):
    encoder_calls = []
    monkeypatch.setattr(
        editor.text_encoder, "forward", counting(editor.text_encoder.forward, encoder_calls)
    )
    vae_calls = []
    monkeypatch.setattr(editor.vae, "encode", counting(editor.vae.encode, vae_calls))

    grid = editor.grid(EditRequest(image, INSTRUCTION, seed=9), [1.0, 3.0], [0.5, 1.0, 2.0])

    assert len(encoder_calls) == len(vae_calls) == 1
    assert [[(cell.text_scale, cell.image_scale) for cell in row] for row in grid.results] == [
        [(1.0, 0.5), (1.0, 1.0), (1.0, 2.0)],
        [(3.0, 0.5), (3.0, 1.0), (3.0, 2.0)],
    ]
    cells = [pixels(cell.image) for row in grid.results for cell in row]
    assert all(not np.array_equal(cells[0], cell) for cell in cells[1:])
    # A cell is what a single edit with its scales gives.
    single = editor.edit(EditRequest(image, INSTRUCTION, 3.0, 2.0, seed=9))
    assert np.abs(pixels(single.image) - cells[5]).max() <= 1

    assert scale_label("s_T", 3.0) == "s_T 3" and scale_label("s_I", 0.5) == "s_I 0.5"
    sheet = pixels(grid.sheet.convert("L"))
    cell_size = 256
    assert sheet.shape[1] > 3 * cell_size and sheet.shape[0] > 2 * cell_size
    label_width = sheet.shape[1] - 3 * (cell_size + 6)
    header_height = sheet.shape[0] - 2 * (cell_size + 6)
    row_label_strip = sheet[header_height:, :label_width]
    header_strip = sheet[:header_height, label_width:]
    assert (row_label_strip[:cell_size] < 128).any() and (row_label_strip[cell_size:] < 128).any()
    for column in range(3):
        start = column * (cell_size + 6)
        assert (header_strip[:, start : start + cell_size] < 128).any()
    first_cell = sheet[
        header_height : header_height + cell_size, label_width : label_width + cell_size
    ]
    expected = pixels(resize_to(grid.results[0][0].image, (cell_size, cell_size)).convert("L"))
    assert np.array_equal(first_cell, expected)


def test_default_grid_spreads_around_the_model_scales():
    ip2p = ModelDefaults(text_scale=7.5, image_scale=1.5, steps=20, size=512)
    assert default_grid_scales(ip2p) == ([5.0, 7.5, 10.0], [1.0, 1.5, 2.0])


def counting(function, calls):
    def wrapper(*args, **kwargs):
        calls.append(1)
        return function(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize(
    ("instruction", "text_scale", "steps", "scheduler", "message"),
    [
        ("   ", None, None, None, "instruction is empty"),
        (INSTRUCTION, -1.0, None, None, "0 or more"),
        (INSTRUCTION, None, 0, None, "at least 1"),
        (INSTRUCTION, None, None, "ddim", "euler_ancestral, dpmpp_2m"),
    ],
)
def test_bad_requests_say_what_to_fix(
    editor, image, instruction, text_scale, steps, scheduler, message
):
    request = EditRequest(image, instruction, text_scale, steps=steps, scheduler=scheduler)
    with pytest.raises(EditorError, match=message):
        editor.edit(request)


def test_missing_hub_model_names_it_where_it_looked_and_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNotFound) as raised:
        load_editor("ip2p")
    message = str(raised.value)
    assert "'ip2p'" in message and "timbrooks/instruct-pix2pix" in message
    assert str(tmp_path / "empty-cache") in message
    assert "hf download timbrooks/instruct-pix2pix" in message
    assert one_sentence(message)

    with pytest.raises(ModelNotFound, match="'someone/no-such-model'.*hf download") as raised:
        load_editor("someone/no-such-model")
    assert one_sentence(str(raised.value))

    with pytest.raises(ModelNotFound, match="there is no folder .*/no/such/folder") as raised:
        load_editor(str(tmp_path / "no" / "such" / "folder"))
    assert one_sentence(str(raised.value))


def test_incomplete_model_folder_names_what_is_missing(tmp_path, tiny_model):
    incomplete = tmp_path / "incomplete"
    shutil.copytree(tiny_model, incomplete)
    shutil.rmtree(incomplete / "text_encoder")
    with pytest.raises(ModelNotFound, match="missing text_encoder/") as raised:
        load_editor(str(incomplete))
    assert one_sentence(str(raised.value))

    shutil.copytree(tiny_model / "text_encoder", incomplete / "text_encoder")
    for weights in (incomplete / "unet").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(ModelNotFound, match="could not be loaded") as raised:
        load_editor(str(incomplete))
    assert one_sentence(str(raised.value))


def test_a_unet_without_image_channels_is_refused(editor):
    text_to_image_unet = type(editor.unet)(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        norm_num_groups=8,
    )
    with pytest.raises(EditorError, match="not an InstructPix2Pix model"):
        Pix2PixEditor(
            text_to_image_unet,
            editor.vae,
            editor.text_encoder,
            editor.tokenizer,
            editor.scheduler_config,
            editor.defaults,
            "sd-text-to-image",
        )


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and ". " not in message
