"""Train an embedded demo model: a miniature InstructPix2Pix on a procedural edit world.

    python -m editor.demo.train --out runs/demo                   # shapes (`demo`), CPU: hours
    python -m editor.demo.train --world photos --out runs/photo   # photos (`demo-photo`)
    python -m editor.demo.train --out runs/demo --device cuda     # GPU: minutes
    python -m editor.demo.train --out runs/demo --resume runs/demo            # continue a run
    python -m editor.demo.train --out runs/more --resume editor/demo/model --steps 8000
                                                    # fine-tune a model 8000 more steps
    python -m editor.demo.reproduce shapes|photos   # every stage of a shipped model, in order

Two worlds: `shapes` (world.py: flat scenes, local and global edits) and `photos`
(photos.py: real photographs, colour edits with exact truth). Stages, one after the other:
1. a tiny autoencoder learns to squeeze world images into 4-channel latents: for shapes an
   AutoencoderKL (32x32 images, 4x16x16 latents), for photos an AutoencoderTiny without
   normalisation layers or downsampling (16x16 photos, 4x16x16 latents), whose colours come
   back far more exactly; `--random-colours` mixes in pictures of random colours, so it
   also reproduces colours its training photos lack;
2. a UNet (8 input channels: noisy latents + the input image's latents) and a tiny CLIP text
   encoder learn to turn (input image, instruction) into the edited image, with
   v-prediction and InstructPix2Pix's conditioning dropout so both guidance scales work
   (with the instruction dropped, the target is the input: s_I pulls toward the original);
3. optionally (`--decoder-steps`), the VAE decoder alone is sharpened; the latent space the
   UNet learned does not move.
Every stage uses AdamW with diffusers' cosine schedule and shares the logging and
checkpointing below.

`--out` receives `model/` (the diffusers folder, EMA weights, rewritten at every checkpoint,
with a model card from `cards/<world>.md`) and `state.pt` (everything needed to continue
exactly). `--resume` takes either such a run folder (then `--steps` is the step to end at)
or a bare model folder (then training restarts from its weights with a fresh optimizer and
a short warm-up, for `--steps` more steps); with `--refit-vae`, that folder's autoencoder
first trains again from its weights and the UNet then continues on the new latents.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    DDPMScheduler,
    EulerAncestralDiscreteScheduler,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img import (
    retrieve_latents,
)
from diffusers.training_utils import EMAModel
from PIL import Image
from torch.optim.lr_scheduler import LambdaLR
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from editor import DEFAULT_SCHEDULER, SCHEDULERS
from editor.demo import photos, quality, world
from editor.demo.tokenizer import build_word_tokenizer
from editor.models import vae_levels

# --- the model ----------------------------------------------------------------------------
VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    block_out_channels=(16, 32),  # two levels: latents are half the image size
    layers_per_block=1,
    latent_channels=4,
    norm_num_groups=8,
    sample_size=world.SIZE,
    mid_block_add_attention=False,
)
# The photo world's autoencoder: one level (latents at the image's size), two blocks, 32 wide.
# It has no GroupNorm, which in the AutoencoderKL shifted every photo's colours: with a
# perfect UNet, the KL VAE's round trip alone kept 9 of 15 photo edit kinds from the
# quality bar; this one keeps 1 (the model card has the measurement).
TINY_VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    encoder_block_out_channels=(32,),
    decoder_block_out_channels=(32,),
    num_encoder_blocks=(2,),
    num_decoder_blocks=(2,),
    latent_channels=4,
)
Autoencoder = AutoencoderKL | AutoencoderTiny
UNET_CONFIG = dict(
    sample_size=world.SIZE // 2,
    in_channels=8,  # noisy latents + input-image latents
    out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),  # text at 16x16 and 8x8
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(32, 64),
    layers_per_block=1,
    cross_attention_dim=64,
    attention_head_dim=4,  # diffusers reads this as the number of heads
    norm_num_groups=8,
)
TEXT_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=16,
    bos_token_id=0,
    eos_token_id=1,
    pad_token_id=1,
)
NOISE_CONFIG = dict(
    num_train_timesteps=1000,
    beta_schedule="scaled_linear",
    beta_start=0.00085,
    beta_end=0.012,
    prediction_type="v_prediction",
    rescale_betas_zero_snr=True,  # the last step is pure noise, as trailing sampling assumes
    timestep_spacing="trailing",
    clip_sample=False,
)
DROPOUT = 0.05  # InstructPix2Pix: 5 % no text (target: the input), 5 % no image, 5 % neither
LOG_EVERY = 25  # steps between progress lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--world", choices=WORLDS, default="shapes",
                        help="what to learn: flat shapes (`demo`) or photo colour edits")
    parser.add_argument("--resume", type=Path, help="run folder or model folder to start from")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--vae-lr", type=float, default=2e-3)
    parser.add_argument("--random-colours", type=float, default=0.0, metavar="SHARE",
                        help="share of the autoencoder's images that are random colours "
                        "(photos.random_colours) instead of world images")
    parser.add_argument("--refit-vae", action="store_true",
                        help="with --resume of a model folder: train its autoencoder again "
                        "from its weights (--vae-steps), then continue the UNet on the new "
                        "latents")
    parser.add_argument("--steps", type=int, default=4000, help="UNet steps")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--shape-weight", type=float, default=1.0,
                        help="loss weight of shape pixels relative to the background")
    parser.add_argument("--favour", nargs="+", default=[], choices=photos.KINDS,
                        metavar="KIND", help="photo edit kinds to draw once more each "
                        "(name a kind twice to draw it twice more)")
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--decoder-steps", type=int, default=0,
                        help="after the UNet: fine-tune the VAE decoder alone this long")
    parser.add_argument("--text-scale", type=float, default=4.0, help="recommended s_T")
    parser.add_argument("--image-scale", type=float, default=1.5, help="recommended s_I")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default=DEFAULT_SCHEDULER,
                        help="recommended sampler")
    return parser.parse_args(argv)


# --- data: the two worlds -----------------------------------------------------------------


@dataclass
class Batch:
    """One training step's examples: instructions, images before and after as (N, 3, H, W)
    tensors in [-1, 1] (as the pipeline feeds its VAE), and per-latent loss weights or None."""

    instructions: list[str]
    before: torch.Tensor
    after: torch.Tensor
    weights: torch.Tensor | None


def to_tensor(pixels: np.ndarray, device: str) -> torch.Tensor:
    """(N, H, W, 3) uint8 images as a (N, 3, H, W) tensor in [-1, 1]."""
    return torch.from_numpy(pixels).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1


class ShapesWorld:
    """The flat-shapes world of `world.py`: the shipped `demo` model."""

    name = "shapes"
    size = world.SIZE
    vae_class, vae_config = AutoencoderKL, VAE_CONFIG
    unet_config = UNET_CONFIG
    # Edit kinds for training; a kind listed twice is drawn twice as often.
    kinds = ("recolour", "recolour", "remove", "remove", "background", "darken", "brighten")
    render_unedited = False  # its edits draw: the composite maps from the VAE's round trip
    colour_only = False

    def vocabulary(self) -> set[str]:
        return world.vocabulary()

    def repertoire(self) -> dict:
        """What the model can do, for pixchat.json: its edit kinds and their words."""
        kinds = sorted(set(self.kinds))
        return {"summary": "edits flat scenes of shapes: recolour or remove a shape, change "
                           "the background, darken or brighten",
                "kinds": {kind: list(world.PHRASINGS[kind]) for kind in kinds},
                "words": sorted(world.vocabulary(kinds))}

    def batch(self, seed: int, stage: int, step: int, size: int, args) -> Batch:
        """The edits of one step: fixed by (seed, stage, step), so resuming is exact."""
        edits = world.training_edits([seed, stage, step], size, self.kinds)
        weights = shape_weights(edits, args.shape_weight, args.device)
        return Batch([e.instruction for e in edits],
                     to_tensor(np.stack([world.render(e.before) for e in edits]), args.device),
                     to_tensor(np.stack([world.render(e.after) for e in edits]), args.device),
                     weights)

    def held_out(self) -> list[world.Edit]:
        """The quick check's edits: 8 per kind."""
        kinds = sorted(set(self.kinds))
        return world.held_out_edits(8 * len(kinds), kinds)

    def before_image(self, edit: world.Edit) -> Image.Image:
        return world.render_image(edit.before)

    def score(self, edit: world.Edit, output: np.ndarray) -> quality.Score:
        return quality.score(edit, output)


class PhotoWorld:
    """The photo world of `photos.py`: colour edits of real photographs (`demo-photo`)."""

    name = "photos"
    size = photos.SIZE
    vae_class, vae_config = AutoencoderTiny, TINY_VAE_CONFIG
    unet_config = {**UNET_CONFIG, "sample_size": photos.SIZE}  # latents at the image's size
    # Colour edits must be exact: composing from the model's own no-edit rendering cancels the
    # colour casts an edit and that rendering share (the card's "Composing from the model's
    # own rendering").
    render_unedited = True
    # Every photo edit is a colour transform: the composite never uses the 16 px result itself
    # (the card's "Composing from the model's own rendering").
    colour_only = True

    def vocabulary(self) -> set[str]:
        return photos.vocabulary()

    def repertoire(self) -> dict:
        """What the model can do, for pixchat.json: its edit kinds and their words."""
        return photos.repertoire()

    def batch(self, seed: int, stage: int, step: int, size: int, args) -> Batch:
        """The examples of one step: fixed by (seed, stage, step), so resuming is exact."""
        kinds = (*photos.KINDS, *args.favour)
        examples = photos.training_examples([seed, stage, step], size, kinds=kinds)
        return Batch([e.instruction for e in examples],
                     to_tensor(np.stack([e.before for e in examples]), args.device),
                     to_tensor(np.stack([e.after for e in examples]), args.device),
                     None)

    def held_out(self) -> list[photos.Example]:
        """The quick check's edits: 2 per kind, on the held-out photos at working size."""
        return photos.held_out_examples(2 * len(photos.KINDS))

    def before_image(self, example: photos.Example) -> Image.Image:
        return Image.fromarray(example.before)

    def score(self, example: photos.Example, output: np.ndarray) -> quality.Score:
        return quality.compare(example.kind, example.before, example.after, output)


WORLDS = {"shapes": ShapesWorld(), "photos": PhotoWorld()}


def shape_weights(edits: list[world.Edit], weight: float, device: str) -> torch.Tensor:
    """Per-latent loss weights (N, 1, H/2, W/2) that count the shapes of the before and after
    scenes `weight` times as much as plain background, averaging 1 per edit.

    A local edit is won or lost on a few shape pixels (the right shape changes, the others
    stay); in a plain mean they drown in background the model already copies well.
    """
    masks = np.stack([np.max([world.coverage(shape) for shape in e.before.shapes + e.after.shapes],
                             axis=0) for e in edits])
    masks = F.avg_pool2d(torch.from_numpy(masks).float()[:, None], 2)
    weights = 1 + (weight - 1) * masks
    return (weights / weights.mean(dim=(1, 2, 3), keepdim=True)).to(device)


# --- the training loop's bookkeeping, shared by the three stages ---------------------------


class StageLog:
    """Prints a stage's running mean of one number every LOG_EVERY steps, with its speed."""

    def __init__(self, name: str, total: int, label: str):
        self.name, self.total, self.label = name, total, label
        self.values: list[float] = []
        self.clock = time.time()

    def add(self, step: int, value: float, note: str = "") -> None:
        self.values.append(value)
        if (step + 1) % LOG_EVERY == 0:
            rate = len(self.values) / (time.time() - self.clock)
            print(f"{self.name:4s} step {step + 1:6d}/{self.total}  {self.label} "
                  f"{np.mean(self.values):.4f}  {note}{rate:.2f} it/s", flush=True)
            self.values, self.clock = [], time.time()


def checkpoint_due(step: int, total: int, every: int) -> bool:
    """Save (or evaluate) after every `every` steps and after the last one."""
    return (step + 1) % every == 0 or step + 1 == total


def optimizer_and_schedule(parameters, lr: float, warmup: int, total: int, state: dict,
                           stage: str) -> tuple[torch.optim.AdamW, LambdaLR]:
    """AdamW with diffusers' cosine schedule (linear warm-up, then down to 0 at `total`),
    continued from `state` when it holds this stage's optimizer."""
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.0)
    schedule = get_cosine_schedule_with_warmup(optimizer, warmup, total)
    if f"{stage}_optimizer" in state:
        optimizer.load_state_dict(state[f"{stage}_optimizer"])
        schedule.load_state_dict(state[f"{stage}_schedule"])
    return optimizer, schedule


def remember(state: dict, stage: str, optimizer, schedule) -> None:
    """Put a stage's optimizer and schedule into the state a checkpoint saves."""
    state[f"{stage}_optimizer"] = optimizer.state_dict()
    state[f"{stage}_schedule"] = schedule.state_dict()


# --- stage 1: the autoencoder -------------------------------------------------------------


def train_vae(vae: Autoencoder, world_: ShapesWorld | PhotoWorld, state: dict,
              args: argparse.Namespace, save) -> None:
    """Teach the VAE to reconstruct world images, then set its latent scaling factor."""
    optimizer, schedule = optimizer_and_schedule(vae.parameters(), args.vae_lr, 0,
                                                 args.vae_steps, state, "vae")
    vae.train()
    log = StageLog("vae", args.vae_steps, "L1")
    for step in range(state["vae_step"], args.vae_steps):
        torch.manual_seed(args.seed * 1_000_003 + step)
        batch = world_.batch(args.seed, 1, step, args.batch_size, args)
        images = torch.cat([batch.before, batch.after])
        random_count = round(args.random_colours * len(images))
        if random_count:  # random colours take the place of that many world images
            colours = photos.random_colours([args.seed, 1, step], random_count, world_.size)
            images = torch.cat([images[random_count:], to_tensor(colours, args.device)])
        encoded = vae.encode(images)
        reconstruction = vae.decode(retrieve_latents(encoded, sample_mode="sample")).sample
        error = (reconstruction - images).abs().mean()
        loss = error + F.mse_loss(reconstruction, images)
        if hasattr(encoded, "latent_dist"):  # AutoencoderKL: a whisper of KL
            loss = loss + 1e-7 * encoded.latent_dist.kl().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        log.add(step, error.item() / 2)  # on the 0..1 scale
        state["vae_step"] = step + 1
        if checkpoint_due(step, args.vae_steps, args.save_every):
            remember(state, "vae", optimizer, schedule)
            save()
    vae.eval()
    with torch.no_grad():
        latents = retrieve_latents(vae.encode(fixed_images(world_, args)), sample_mode="argmax")
    vae.register_to_config(scaling_factor=float(1 / latents.std()))
    state["vae_error"] = reconstruction_error(vae, world_, args)
    state.pop("vae_optimizer", None)
    print(f"vae  done: reconstruction L1 {state['vae_error']:.4f}, "
          f"scaling factor {vae.config.scaling_factor:.3f}", flush=True)


def fixed_images(world_: ShapesWorld | PhotoWorld, args: argparse.Namespace) -> torch.Tensor:
    """256 fixed "after" images of the world (stage 3, step 0 of the stream)."""
    return world_.batch(args.seed, 3, 0, 256, args).after


@torch.no_grad()
def reconstruction_error(vae: Autoencoder, world_: ShapesWorld | PhotoWorld,
                         args: argparse.Namespace) -> float:
    """Mean L1 (0..1 scale) of encoding and decoding 256 fixed world images."""
    images = fixed_images(world_, args)
    latents = retrieve_latents(vae.encode(images), sample_mode="argmax")
    return (vae.decode(latents).sample - images).abs().mean().item() / 2


# --- stage 2: the editing UNet ------------------------------------------------------------


def encode_text(text_encoder, tokenizer, instructions: list[str], device: str) -> torch.Tensor:
    """Instruction embeddings exactly as the pipeline computes them."""
    ids = tokenizer(instructions, padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids
    return text_encoder(ids.to(device))[0]


def train_unet(models: dict, tokenizer, world_: ShapesWorld | PhotoWorld, state: dict,
               args: argparse.Namespace, save) -> None:
    """Train UNet and text encoder to predict v for the edited image's latents."""
    vae, unet, text_encoder = models["vae"], models["unet"], models["text_encoder"]
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    start = state["fresh_optimizer_at"]  # where this optimizer began
    warmup = args.warmup if start == 0 else args.warmup // 4
    optimizer, schedule = optimizer_and_schedule(parameters, args.lr, warmup,
                                                 args.steps - start, state, "unet")
    ema = EMAModel(parameters, decay=0.999, use_ema_warmup=True, power=3 / 4)
    if "ema" in state:
        ema.load_state_dict(state["ema"])
        ema.to(args.device)  # the checkpoint was loaded onto the CPU
    models["ema"] = ema
    noise_scheduler = DDPMScheduler(**NOISE_CONFIG)
    unet.train()
    text_encoder.train()
    vae.requires_grad_(False)
    log = StageLog("unet", args.steps, "loss")
    for step in range(state["unet_step"], args.steps):
        torch.manual_seed(args.seed * 1_000_003 + step)
        batch = world_.batch(args.seed, 2, step, args.batch_size, args)
        chance = torch.rand(len(batch.instructions), device=args.device)
        # Text dropped, image kept: an empty instruction changes nothing, so the target is the
        # input itself. Then s_I pulls toward the input, not toward an average of all edits.
        keeps_input = chance < DROPOUT
        targets = torch.where(keeps_input[:, None, None, None], batch.before, batch.after)
        with torch.no_grad():
            # the input's latents unscaled, as the pipeline passes them
            image_latents = retrieve_latents(vae.encode(batch.before), sample_mode="argmax")
            target = (retrieve_latents(vae.encode(targets), sample_mode="sample")
                      * vae.config.scaling_factor)

        text = encode_text(text_encoder, tokenizer, batch.instructions, args.device)
        no_text = encode_text(text_encoder, tokenizer, [""], args.device)
        drop_text = chance < 2 * DROPOUT
        drop_image = (chance >= DROPOUT) & (chance < 3 * DROPOUT)
        text = torch.where(drop_text[:, None, None], no_text, text)
        image_latents = image_latents * (~drop_image)[:, None, None, None]

        noise = torch.randn_like(target)
        timesteps = torch.randint(0, NOISE_CONFIG["num_train_timesteps"], (len(target),),
                                  device=args.device)
        noisy = noise_scheduler.add_noise(target, noise, timesteps)
        velocity = noise_scheduler.get_velocity(target, noise, timesteps)
        prediction = unet(torch.cat([noisy, image_latents], dim=1), timesteps, text).sample
        squared_error = (prediction - velocity) ** 2
        if batch.weights is not None:
            squared_error = squared_error * batch.weights
        loss = squared_error.mean()

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        ema.step(parameters)
        log.add(step, loss.item(), f"lr {schedule.get_last_lr()[0]:.1e}  ")
        state["unet_step"] = step + 1
        if checkpoint_due(step, args.steps, args.eval_every):
            state["metrics"] = evaluate(models, tokenizer, world_, args)
        if checkpoint_due(step, args.steps, args.save_every):
            remember(state, "unet", optimizer, schedule)
            save()


# --- stage 3 (optional): a sharper decoder -----------------------------------------------


def train_decoder(vae: Autoencoder, world_: ShapesWorld | PhotoWorld, state: dict,
                  args: argparse.Namespace, save) -> None:
    """Fine-tune the VAE decoder alone on the frozen encoder's latents.

    The latent space the UNet learned stays exactly the same; only decoding gets sharper.
    """
    parameters = list(vae.decoder.parameters())
    if hasattr(vae, "post_quant_conv"):  # AutoencoderKL's first step of decoding
        parameters += list(vae.post_quant_conv.parameters())
    optimizer, schedule = optimizer_and_schedule(parameters, args.vae_lr / 2, 0,
                                                 args.decoder_steps, state, "decoder")
    for parameter in parameters:
        parameter.requires_grad_(True)
    vae.decoder.train()
    log = StageLog("dec", args.decoder_steps, "L1")
    for step in range(state.get("decoder_step", 0), args.decoder_steps):
        torch.manual_seed(args.seed * 1_000_003 + step)
        batch = world_.batch(args.seed, 4, step, args.batch_size, args)
        images = torch.cat([batch.before, batch.after])
        with torch.no_grad():
            # what the pipeline's UNet sees
            latents = retrieve_latents(vae.encode(images), sample_mode="argmax")
        reconstruction = vae.decode(latents).sample
        error = (reconstruction - images).abs().mean()
        loss = error + F.mse_loss(reconstruction, images)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        log.add(step, error.item() / 2)
        state["decoder_step"] = step + 1
        if checkpoint_due(step, args.decoder_steps, args.save_every):
            vae.eval()
            state["vae_error"] = reconstruction_error(vae, world_, args)
            print(f"dec  reconstruction L1 {state['vae_error']:.4f}", flush=True)
            remember(state, "decoder", optimizer, schedule)
            save()
            vae.decoder.train()
    vae.eval()
    vae.requires_grad_(False)


def evaluate(models: dict, tokenizer, world_: ShapesWorld | PhotoWorld,
             args: argparse.Namespace) -> dict:
    """A quick look at the EMA model: L1 to the truth per edit kind on held-out edits."""
    held_out = world_.held_out()
    with ema_weights(models):
        outputs = make_pipeline(models, tokenizer)(
            prompt=[item.instruction for item in held_out],
            image=[world_.before_image(item) for item in held_out],
            num_inference_steps=20,
            guidance_scale=args.text_scale,
            image_guidance_scale=args.image_scale,
            generator=torch.Generator().manual_seed(args.seed),
        ).images
    scores = [world_.score(item, np.asarray(output))
              for item, output in zip(held_out, outputs, strict=True)]
    metrics = {field: quality.mean_by_kind(scores, field)
               for field in ("to_truth", "nothing_to_truth", "landed")}
    truth, nothing = metrics["to_truth"], metrics["nothing_to_truth"]
    line = "  ".join(f"{kind} {truth[kind]:.3f}/{nothing[kind]:.3f}" for kind in sorted(truth))
    ratio = np.mean([truth[kind] / nothing[kind] for kind in truth])
    print(f"eval L1 to truth (model/doing nothing): {line}  mean ratio {ratio:.2f}"
          + (f"  landed {metrics['landed']}" if metrics["landed"] else ""), flush=True)
    return metrics


@contextmanager
def ema_weights(models: dict) -> Iterator[None]:
    """Swap the EMA weights into the UNet and text encoder for the duration of a block."""
    trained = [models["unet"], models["text_encoder"]]
    parameters = [parameter for model in trained for parameter in model.parameters()]
    models["ema"].store(parameters)
    models["ema"].copy_to(parameters)
    for model in trained:
        model.eval()
    try:
        yield
    finally:
        models["ema"].restore(parameters)
        for model in trained:
            model.train()


# --- saving and loading -------------------------------------------------------------------


def make_pipeline(models: dict, tokenizer) -> StableDiffusionInstructPix2PixPipeline:
    """The models as a diffusers pipeline, with the Euler ancestral sampler."""
    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=models["vae"],
        text_encoder=models["text_encoder"],
        tokenizer=tokenizer,
        unet=models["unet"],
        scheduler=EulerAncestralDiscreteScheduler(**{
            key: value for key, value in NOISE_CONFIG.items() if key != "clip_sample"}),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def save_model(folder: Path, models: dict, tokenizer, world_: ShapesWorld | PhotoWorld,
               state: dict, args) -> None:
    """Write the model folder (EMA weights) with pixchat.json, training.json and a model card."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with ema_weights(models):
        make_pipeline(models, tokenizer).save_pretrained(staging)
    vae_file = staging / "vae" / "config.json"
    vae_config = json.loads(vae_file.read_text())
    if vae_config["_class_name"] == "AutoencoderTiny":  # it saves a copy of its decoder's
        del vae_config["block_out_channels"]           # levels, then warns when loading it
        vae_file.write_text(json.dumps(vae_config, indent=2) + "\n")
    settings = {"text_scale": args.text_scale, "image_scale": args.image_scale, "steps": 20,
                "size": world_.size, "scheduler": args.scheduler,
                "render_unedited": world_.render_unedited, "colour_only": world_.colour_only,
                "repertoire": world_.repertoire()}
    (staging / "pixchat.json").write_text(json.dumps(settings, indent=2) + "\n")
    keys = ("world", "vae_step", "decoder_step", "unet_step", "vae_error", "metrics",
            "wall_seconds", "commands")
    training = {key: state[key] for key in keys if key in state}
    (staging / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    (staging / "README.md").write_text(model_card(world_, training, settings))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def model_card(world_: ShapesWorld | PhotoWorld, training: dict, settings: dict) -> str:
    """The model folder's README, from the world's template in `cards/`."""
    metrics = training.get("metrics", {})
    rows = [f"| {kind} | {metrics['to_truth'][kind]:.3f} | {value:.3f} |"
            for kind, value in sorted(metrics.get("nothing_to_truth", {}).items())]
    template = (Path(__file__).parent / "cards" / f"{world_.name}.md").read_text()
    return template.format(
        vae_channels=vae_levels(world_.vae_config),
        unet_channels=world_.unet_config["block_out_channels"],
        vae_step=training.get("vae_step", 0),
        decoder_step=training.get("decoder_step", 0),
        vae_error=training.get("vae_error", 0),
        unet_step=training.get("unet_step", 0),
        wall_minutes=training.get("wall_seconds", 0) / 60,
        commands="\n".join(f"    {command}" for command in training.get("commands", [])),
        rows="\n".join(rows),
        **settings,
    )


def git_commit() -> str:
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True)
        return result.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no commit"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    world_ = WORLDS[args.world]
    tokenizer = build_word_tokenizer(world_.vocabulary(), args.out / "tokenizer")
    models = {
        "vae": world_.vae_class(**world_.vae_config),
        "unet": UNet2DConditionModel(**world_.unet_config),
        "text_encoder": CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), **TEXT_CONFIG)),
    }
    state = {"world": args.world, "vae_step": 0, "unet_step": 0, "fresh_optimizer_at": 0,
             "wall_seconds": 0.0, "commands": []}
    if args.resume and (args.resume / "state.pt").exists():
        state = torch.load(args.resume / "state.pt", map_location="cpu", weights_only=False)
        for name, model in models.items():
            model.load_state_dict(state.pop(name))
        models["vae"].register_to_config(**state.pop("vae_config"))
    elif args.resume:  # a bare model folder: its weights, a fresh optimizer
        tokenizer = CLIPTokenizer.from_pretrained(args.resume / "tokenizer")
        models = {"vae": world_.vae_class.from_pretrained(args.resume / "vae"),
                  "unet": UNet2DConditionModel.from_pretrained(args.resume / "unet"),
                  "text_encoder": CLIPTextModel.from_pretrained(args.resume / "text_encoder")}
        state.update(json.loads((args.resume / "training.json").read_text()))
        state["fresh_optimizer_at"] = state["unet_step"]
        args.steps += state["unet_step"]
        if args.refit_vae:  # the autoencoder stage runs again, from these weights
            state["vae_step"] = 0
            del state["vae_error"]
    elif args.refit_vae:
        sys.exit("--refit-vae needs --resume with a model folder (its autoencoder trains again).")
    if state.get("world", "shapes") != args.world:
        sys.exit(f"{args.resume} was trained on the {state.get('world', 'shapes')} world; "
                 f"pass --world {state.get('world', 'shapes')}.")
    for model in models.values():
        model.to(args.device)
    state["commands"].append(f"python -m editor.demo.train {shlex.join(argv)}"
                             f"  # commit {git_commit()}")
    started = time.time() - state["wall_seconds"]

    def save() -> None:
        state["wall_seconds"] = time.time() - started
        checkpoint = {name: model.state_dict() for name, model in models.items()
                      if name != "ema"}
        checkpoint["vae_config"] = {"scaling_factor": models["vae"].config.scaling_factor}
        if "ema" in models:
            checkpoint["ema"] = models["ema"].state_dict()
            save_model(args.out / "model", models, tokenizer, world_, state, args)
        torch.save({**state, **checkpoint}, args.out / "state.pt.partial")
        os.replace(args.out / "state.pt.partial", args.out / "state.pt")
        print(f"saved step vae {state['vae_step']} unet {state['unet_step']} to {args.out}",
              flush=True)

    if "vae_error" not in state:
        train_vae(models["vae"], world_, state, args, save)
    train_unet(models, tokenizer, world_, state, args, save)
    if state.get("decoder_step", 0) < args.decoder_steps:
        train_decoder(models["vae"], world_, state, args, save)
    print(f"done after {(time.time() - started) / 60:.0f} minutes of training in all: "
          f"{args.out / 'model'}", flush=True)


if __name__ == "__main__":
    main()
