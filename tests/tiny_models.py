"""Tiny random models built from small configs, for tests and benchmarks that must not download.

`build_tiny_pix2pix(folder)` writes a complete diffusers InstructPix2Pix folder (about 1 MB),
`build_tiny_kontext(folder)` a FLUX.1 Kontext folder and `build_tiny_qwen_edit(folder)` a
Qwen-Image-Edit (2509) folder (configs shaped like diffusers' own pipeline tests, guidance
embedding on, as in the real Kontext), `build_tiny_sam_inpaint(folder)` a Stable Diffusion
inpainting folder with an OWLv2 detector and a SAM segmenter (shaped like transformers'
tests), and `build_tiny_vlm(folder)` a transformers Idefics3
(SmolVLM's architecture) image-text-to-text folder with its processor and chat template
(about 100 kB); all load through `from_pretrained` like real checkpoints. Use them from a fixture:

    @pytest.fixture(scope="module")
    def tiny_model(tmp_path_factory):
        return build_tiny_pix2pix(tmp_path_factory.mktemp("tiny"))

or from the command line, for a benchmark: `python tests/tiny_models.py vlm /tmp/tiny-vlm`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderKLQwenImage,
    EulerAncestralDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxKontextPipeline,
    FluxTransformer2DModel,
    PNDMScheduler,
    QwenImageEditPlusPipeline,
    QwenImageTransformer2DModel,
    StableDiffusionInpaintPipeline,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3ImageProcessorPil,
    Idefics3Processor,
    Owlv2Config,
    Owlv2ForObjectDetection,
    Owlv2ImageProcessorPil,
    Owlv2Processor,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLImageProcessorPil,
    SamConfig,
    SamImageProcessorPil,
    SamModel,
    SamProcessor,
    T5Config,
    T5EncoderModel,
    T5TokenizerFast,
)

from editor.demo.tokenizer import build_word_tokenizer

WORDS = "make turn the it a circle square sky red blue green snowy winter darker".split()
TINY_SETTINGS = {"text_scale": 3.0, "image_scale": 1.5, "steps": 4, "size": 32}


def build_tiny_pix2pix(folder: Path, settings: dict | None = TINY_SETTINGS) -> Path:
    """Save a random tiny InstructPix2Pix (32×32 pixels, 4×16×16 latents) into `folder`.

    `settings` is written as the folder's pixchat.json; None writes none.
    """
    unet, vae, text_encoder, tokenizer = stable_diffusion_parts(folder, unet_in_channels=8)
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


def stable_diffusion_parts(folder: Path, unet_in_channels: int) -> tuple:
    """A random tiny UNet, VAE, CLIP text encoder and word tokenizer (32×32 pixels, 4×16×16
    latents); the UNet takes `unet_in_channels` (8 for InstructPix2Pix, 9 for inpainting)."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=unet_in_channels,
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
    return unet, vae, text_encoder, tokenizer


def build_tiny_sam_inpaint(folder: Path) -> Path:
    """Save a random tiny grounded inpainting model into `folder`: a Stable Diffusion
    inpainting pipeline (32×32 pixels) with an OWLv2 `detector/` (32×32, 16 boxes) and a SAM
    `segmenter/` (64×64) beside its components, as `editor.grounding` loads them."""
    unet, vae, text_encoder, tokenizer = stable_diffusion_parts(folder, unet_in_channels=9)
    pipeline = StableDiffusionInpaintPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )
    model_dir = _save(pipeline, folder / "tiny-sam-inpaint", {"steps": 2, "size": 32})
    # OWLv2 reads a text whose first token id is 0 as padding: CLIP's ids start at 1 here.
    words = build_word_tokenizer(["a", "photo", "of", *WORDS], folder / "owl-tokenizer",
                                 max_length=16, first_id=1)
    torch.manual_seed(0)
    detector = Owlv2ForObjectDetection(Owlv2Config(
        text_config={"vocab_size": len(words), "hidden_size": 16, "intermediate_size": 32,
                     "num_hidden_layers": 1, "num_attention_heads": 2,
                     "max_position_embeddings": 16, "bos_token_id": 1, "eos_token_id": 2,
                     "pad_token_id": 2},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    ))
    detector.save_pretrained(model_dir / "detector")
    Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 32, "width": 32}),
                   tokenizer=words).save_pretrained(model_dir / "detector")
    segmenter = SamModel(SamConfig(
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 64, "patch_size": 8,
                       "output_channels": 16, "global_attn_indexes": [0], "window_size": 0,
                       "mlp_dim": 32, "num_pos_feats": 8},
        prompt_encoder_config={"hidden_size": 16, "image_size": 64, "patch_size": 8,
                               "mask_input_channels": 4},
        mask_decoder_config={"hidden_size": 16, "mlp_dim": 16, "num_hidden_layers": 1,
                             "num_attention_heads": 2, "iou_head_hidden_dim": 8},
    ))
    segmenter.save_pretrained(model_dir / "segmenter")
    SamProcessor(image_processor=SamImageProcessorPil(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
        mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16},
    )).save_pretrained(model_dir / "segmenter")
    return model_dir


def build_tiny_kontext(folder: Path) -> Path:
    """Save a random tiny FLUX.1 Kontext pipeline (32×32 pixels, 16×16 latents) into `folder`."""
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8], guidance_embeds=True,
    )
    tokenizer = build_word_tokenizer(WORDS, folder / "tokenizer-build", max_length=16)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, projection_dim=32,
        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=16,
        bos_token_id=0, eos_token_id=1, pad_token_id=1,
    ))
    tokenizer_2 = t5_tokenizer(WORDS)
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=len(tokenizer_2), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8,
    ))
    vae = AutoencoderKL(
        sample_size=32, in_channels=3, out_channels=3, latent_channels=1,
        block_out_channels=(4, 8), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, layers_per_block=1, norm_num_groups=1,
        use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    pipeline = FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), text_encoder=text_encoder,
        text_encoder_2=text_encoder_2, tokenizer=tokenizer, tokenizer_2=tokenizer_2,
        transformer=transformer, vae=vae,
    )
    return _save(pipeline, folder / "tiny-kontext", {"steps": 2, "size": 32})


def t5_tokenizer(words: list[str]) -> T5TokenizerFast:
    """A T5 (SentencePiece unigram) tokenizer that knows `words` whole and spells the rest."""
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("\u2581" + word, -1.0) for word in words]
    pieces += [(letter, -5.0) for letter in "\u2581abcdefghijklmnopqrstuvwxyz"]
    unigram = Tokenizer(models.Unigram(pieces, unk_id=2))
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    return T5TokenizerFast(tokenizer_object=unigram, pad_token="<pad>", eos_token="</s>",
                           unk_token="<unk>", extra_ids=0)


QWEN_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                       "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def build_tiny_qwen_edit(folder: Path) -> Path:
    """Save a random tiny Qwen-Image-Edit (2509) pipeline (32×32 pixels) into `folder`.

    Its text encoder is a tiny Qwen2.5-VL that reads the image at 56×56 pixels at most; the
    tokenizer is a byte-level BPE trained here, with Qwen's special tokens.
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([" ".join(WORDS)], trainers.BpeTrainer(
        vocab_size=300, special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>")
    token_id = tokenizer.convert_tokens_to_ids
    torch.manual_seed(0)
    text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config={
            "hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": len(tokenizer),
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default",
                             "type": "default"},
            "rope_theta": 1000000.0, "bos_token_id": token_id("<|im_start|>"),
            "eos_token_id": token_id("<|im_end|>"), "pad_token_id": token_id("<|endoftext|>"),
        },
        vision_config={"depth": 2, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                       "out_hidden_size": 16},
        hidden_size=16, vocab_size=len(tokenizer),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
        image_token_id=token_id("<|image_pad|>"), video_token_id=token_id("<|video_pad|>"),
    )).eval()
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
        num_attention_heads=3, joint_attention_dim=16, guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    vae = AutoencoderKLQwenImage(
        base_dim=24, z_dim=4, dim_mult=[1, 2, 4], num_res_blocks=1,
        temperal_downsample=[False, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    )
    pipeline = QwenImageEditPlusPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder, tokenizer=tokenizer, processor=None,
    )
    model_dir = _save(pipeline, folder / "tiny-qwen-edit", {"steps": 2, "size": 32})
    # The processor as the real checkpoint ships it: the image processor and the tokenizer.
    image_processor = Qwen2VLImageProcessorPil(min_pixels=28 * 28, max_pixels=56 * 56)
    image_processor.save_pretrained(model_dir / "processor")
    tokenizer.save_pretrained(model_dir / "processor")
    index = json.loads((model_dir / "model_index.json").read_text())
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    (model_dir / "model_index.json").write_text(json.dumps(index, indent=2))
    return model_dir


def _save(pipeline, model_dir: Path, settings: dict) -> Path:
    """`pipeline.save_pretrained(model_dir)` with `settings` as its pixchat.json."""
    pipeline.save_pretrained(model_dir)
    (model_dir / "pixchat.json").write_text(json.dumps(settings))
    return model_dir


VLM_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
    "<global-img>", *(f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)),
]  # fmt: skip
VLM_CHAT_TEMPLATE = (  # SmolVLM's, shortened: "User:<image> text<end_of_utterance>\nAssistant:"
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}:"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>"
    "{% else %} {{ part['text'] }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def build_tiny_vlm(folder: Path) -> Path:
    """Save a random tiny Idefics3 (SmolVLM's architecture) with its processor into `folder`.

    The tokenizer is a byte-level BPE trained here with `tokenizers`, so it can spell any
    text; images become 32×32 pixels, 16 patches merged into 4 image tokens.
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        ['{"action": "edit", "instruction": "make it a snowy winter scene", "text_scale": 7.5, '
         '"image_scale": 1.5, "target": null, "scope": "global", "rationale": "A restyle."}'],
        trainers.BpeTrainer(vocab_size=400, special_tokens=VLM_SPECIAL_TOKENS,
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>",
                                        eos_token="<end_of_utterance>", pad_token="<|endoftext|>")
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32}
    )
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer,
                                  image_seq_len=4, chat_template=VLM_CHAT_TEMPLATE)
    config = Idefics3Config(
        text_config={
            "model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 16,
            "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "num_key_value_heads": 1, "max_position_embeddings": 4096,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )  # fmt: skip
    torch.manual_seed(0)
    model_dir = folder / "tiny-vlm"
    Idefics3ForConditionalGeneration(config).save_pretrained(model_dir)
    processor.save_pretrained(model_dir)
    return model_dir


if __name__ == "__main__":
    kind, target = sys.argv[1:3]
    builders = {"vlm": build_tiny_vlm, "pix2pix": build_tiny_pix2pix,
                "kontext": build_tiny_kontext, "qwen-edit": build_tiny_qwen_edit,
                "sam-inpaint": build_tiny_sam_inpaint}
    print(builders[kind](Path(target)))
