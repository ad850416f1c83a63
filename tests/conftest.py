"""Shared test set-up. Nothing here may reach a model hub, or a developer's own sessions."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402  (after the offline switches, before any model code)

# The test models are tiny: one thread is faster than several contending for two cores.
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def no_pixchat_settings_from_outside():
    """Clear every PIXCHAT_* setting (PIXCHAT_DB, PIXCHAT_DATA, PIXCHAT_BLOBS, the owner, the
    model...) for the whole run, so that no test reads or writes the developer's own store;
    PIXCHAT_TEST_* settings (the test PostgreSQL server) are the suite's own and stay. Editors
    loaded by the tests, also in the processes they start, use one thread, like the line
    above."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in list(os.environ):
            if name.startswith("PIXCHAT_") and not name.startswith("PIXCHAT_TEST_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("PIXCHAT_THREADS", "1")
        yield


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny InstructPix2Pix folder (tests/tiny_models.py), built once per run."""
    from tiny_models import build_tiny_pix2pix  # diffusers loads only for tests that need it

    return build_tiny_pix2pix(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_kontext(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny FLUX.1 Kontext folder (tests/tiny_models.py), built once per run."""
    from tiny_models import build_tiny_kontext

    return build_tiny_kontext(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_qwen_edit(tmp_path_factory: pytest.TempPathFactory):
    """A random tiny Qwen-Image-Edit (2509) folder, built once per run.

    The pipeline encodes its reference image at a megapixel (and shows it to the text
    encoder at 384² pixels) whatever the output size: 45 s an edit for the tiny model on one
    CPU thread. While the fixture is in use both sizes are the tiny model's own 32².
    """
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as plus
    from tiny_models import build_tiny_qwen_edit

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(plus, "VAE_IMAGE_SIZE", 32 * 32)
        monkeypatch.setattr(plus, "CONDITION_IMAGE_SIZE", 32 * 32)
        yield build_tiny_qwen_edit(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_sam_inpaint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny grounded inpainting folder (OWLv2 + SAM + Stable Diffusion inpainting),
    built once per run."""
    from tiny_models import build_tiny_sam_inpaint

    return build_tiny_sam_inpaint(tmp_path_factory.mktemp("tiny"))
