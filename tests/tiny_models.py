"""A tiny random InstructPix2Pix built from small configs, for tests that must not download.

`build_tiny_pix2pix(folder)` writes a complete diffusers InstructPix2Pix folder (about 1 MB)
that loads through `from_pretrained` like a real checkpoint. Use it from a fixture:

    @pytest.fixture(scope="module")
    def tiny_model(tmp_path_factory):
        return build_tiny_pix2pix(tmp_path_factory.mktemp("tiny"))
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerAncestralDiscreteScheduler,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel

from editor.demo.tokenizer import build_word_tokenizer

WORDS = "make turn the it a circle square sky red blue green snowy winter darker".split()
TINY_SETTINGS = {"text_scale": 3.0, "image_scale": 1.5, "steps": 4, "size": 32}


def build_tiny_pix2pix(folder: Path, settings: dict | None = TINY_SETTINGS) -> Path:
    """Save a random tiny InstructPix2Pix (32×32 pixels, 4×16×16 latents) into `folder`.

    `settings` is written as the folder's pixchat.json; None writes none.
    """
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=8,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),  # attention at 8×8 only
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        norm_num_groups=8,
    )
    tokenizer = build_word_tokenizer(WORDS, folder / "tokenizer-build", max_length=16)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=16,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"
    )
    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    model_dir = folder / "tiny-pix2pix"
    pipeline.save_pretrained(model_dir)
    if settings is not None:
        (model_dir / "pixchat.json").write_text(json.dumps(settings))
    return model_dir
