"""Train the embedded demo model: a miniature InstructPix2Pix on the procedural edit world.

    python -m editor.demo.train --out runs/demo                   # CPU: hours
    python -m editor.demo.train --out runs/demo --device cuda     # GPU: minutes
    python -m editor.demo.train --out runs/demo --resume runs/demo            # continue a run
    python -m editor.demo.train --out runs/more --resume editor/demo/model    # fine-tune a model

Stages, one after the other:
1. a tiny AutoencoderKL learns to squeeze 32x32 world images into 4x16x16 latents;
2. a UNet (8 input channels: noisy latents + the input image's latents) and a tiny CLIP text
   encoder learn to turn (input image, instruction) into the edited image, with
   v-prediction and InstructPix2Pix's conditioning dropout so both guidance scales work
   (with the instruction dropped, the target is the input: s_I pulls toward the original);
3. optionally (`--decoder-steps`), the VAE decoder alone is sharpened; the latent space the
   UNet learned does not move.

`--out` receives `model/` (the diffusers folder, EMA weights, rewritten at every checkpoint)
and `state.pt` (everything needed to continue exactly). `--resume` takes either such a run
folder or a bare model folder (then training restarts from its weights with a fresh
optimizer and a short warm-up).
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    EulerAncestralDiscreteScheduler,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from diffusers.training_utils import EMAModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from editor import DEFAULT_SCHEDULER, SCHEDULERS
from editor.demo import quality, world
from editor.demo.tokenizer import build_word_tokenizer

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
# Edit kinds for training; a kind listed twice is drawn twice as often.
TRAINING_KINDS = ("recolour", "recolour", "remove", "remove", "background", "darken", "brighten")
DROPOUT = 0.05  # InstructPix2Pix: 5 % no text (target: the input), 5 % no image, 5 % neither


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--resume", type=Path, help="run folder or model folder to start from")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--vae-lr", type=float, default=2e-3)
    parser.add_argument("--steps", type=int, default=4000, help="UNet steps")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--shape-weight", type=float, default=1.0,
                        help="loss weight of shape pixels relative to the background")
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--decoder-steps", type=int, default=0,
                        help="after the UNet: fine-tune the VAE decoder alone this long")
    parser.add_argument("--text-scale", type=float, default=4.0, help="recommended s_T")
    parser.add_argument("--image-scale", type=float, default=1.5, help="recommended s_I")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default=DEFAULT_SCHEDULER,
                        help="recommended sampler")
    return parser.parse_args(argv)


# --- data ---------------------------------------------------------------------------------


def edit_batch(seed: int, stage: int, step: int, size: int) -> list[world.Edit]:
    """The training edits of one step: fixed by (seed, stage, step), so resuming is exact."""
    return world.training_edits([seed, stage, step], size, TRAINING_KINDS)


def to_tensor(scenes: list[world.Scene], device: str) -> torch.Tensor:
    """Rendered scenes as a (N, 3, H, W) tensor in [-1, 1], as the pipeline feeds its VAE."""
    pixels = np.stack([world.render(scene) for scene in scenes])
    return torch.from_numpy(pixels).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1


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


def learning_rate(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak at step `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


# --- stage 1: the autoencoder -------------------------------------------------------------


def train_vae(vae: AutoencoderKL, state: dict, args: argparse.Namespace, save) -> None:
    """Teach the VAE to reconstruct world images, then set its latent scaling factor."""
    optimizer = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr)
    if "vae_optimizer" in state:
        optimizer.load_state_dict(state["vae_optimizer"])
    vae.train()
    clock, losses = time.time(), []
    for step in range(state["vae_step"], args.vae_steps):
        torch.manual_seed(args.seed * 1_000_003 + step)
        edits = edit_batch(args.seed, 1, step, args.batch_size)
        images = to_tensor([e.before for e in edits] + [e.after for e in edits], args.device)
        posterior = vae.encode(images).latent_dist
        reconstruction = vae.decode(posterior.sample()).sample
        error = (reconstruction - images).abs().mean()
        loss = error + F.mse_loss(reconstruction, images) + 1e-7 * posterior.kl().mean()
        for group in optimizer.param_groups:
            group["lr"] = args.vae_lr * 0.5 * (1 + math.cos(math.pi * step / args.vae_steps))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(error.item() / 2)  # on the 0..1 scale
        if (step + 1) % 25 == 0:
            rate = 25 / (time.time() - clock)
            print(f"vae  step {step + 1:6d}/{args.vae_steps}  L1 {np.mean(losses):.4f}  "
                  f"{rate:.2f} it/s", flush=True)
            clock, losses = time.time(), []
        state["vae_step"] = step + 1
        if (step + 1) % args.save_every == 0:
            state["vae_optimizer"] = optimizer.state_dict()
            save()
    vae.eval()
    with torch.no_grad():
        images = to_tensor([e.after for e in edit_batch(args.seed, 3, 0, 256)], args.device)
        latents = vae.encode(images).latent_dist.mode()
    vae.register_to_config(scaling_factor=float(1 / latents.std()))
    state["vae_error"] = reconstruction_error(vae, args)
    state.pop("vae_optimizer", None)
    print(f"vae  done: reconstruction L1 {state['vae_error']:.4f}, "
          f"scaling factor {vae.config.scaling_factor:.3f}", flush=True)


@torch.no_grad()
def reconstruction_error(vae: AutoencoderKL, args: argparse.Namespace) -> float:
    """Mean L1 (0..1 scale) of encoding and decoding 256 fixed world images."""
    images = to_tensor([e.after for e in edit_batch(args.seed, 3, 0, 256)], args.device)
    latents = vae.encode(images).latent_dist.mode()
    return (vae.decode(latents).sample - images).abs().mean().item() / 2


# --- stage 2: the editing UNet ------------------------------------------------------------


def encode_text(text_encoder, tokenizer, instructions: list[str], device: str) -> torch.Tensor:
    """Instruction embeddings exactly as the pipeline computes them."""
    ids = tokenizer(instructions, padding="max_length", max_length=tokenizer.model_max_length,
                    truncation=True, return_tensors="pt").input_ids
    return text_encoder(ids.to(device))[0]


def train_unet(models: dict, tokenizer, state: dict, args: argparse.Namespace, save) -> None:
    """Train UNet and text encoder to predict v for the edited image's latents."""
    vae, unet, text_encoder = models["vae"], models["unet"], models["text_encoder"]
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.0)
    ema = EMAModel(parameters, decay=0.999, use_ema_warmup=True, power=3 / 4)
    if "unet_optimizer" in state:
        optimizer.load_state_dict(state["unet_optimizer"])
        ema.load_state_dict(state["ema"])
        ema.to(args.device)  # the checkpoint was loaded onto the CPU
    models["ema"] = ema
    noise_scheduler = DDPMScheduler(**NOISE_CONFIG)
    start = state["fresh_optimizer_at"]  # where this optimizer began
    warmup = args.warmup if start == 0 else args.warmup // 4
    unet.train()
    text_encoder.train()
    vae.requires_grad_(False)
    clock, losses = time.time(), []
    for step in range(state["unet_step"], args.steps):
        torch.manual_seed(args.seed * 1_000_003 + step)
        edits = edit_batch(args.seed, 2, step, args.batch_size)
        chance = torch.rand(len(edits), device=args.device)
        # Text dropped, image kept: an empty instruction changes nothing, so the target is the
        # input itself. Then s_I pulls toward the input, not toward an average of all edits.
        keeps_input = (chance < DROPOUT).tolist()
        targets = [e.before if keep else e.after
                   for e, keep in zip(edits, keeps_input, strict=True)]
        with torch.no_grad():
            image_latents = vae.encode(to_tensor([e.before for e in edits], args.device))
            image_latents = image_latents.latent_dist.mode()  # unscaled, as the pipeline does
            target = vae.encode(to_tensor(targets, args.device))
            target = target.latent_dist.sample() * vae.config.scaling_factor

        text = encode_text(text_encoder, tokenizer, [e.instruction for e in edits], args.device)
        no_text = encode_text(text_encoder, tokenizer, [""], args.device)
        drop_text = chance < 2 * DROPOUT
        drop_image = (chance >= DROPOUT) & (chance < 3 * DROPOUT)
        text = torch.where(drop_text[:, None, None], no_text, text)
        image_latents = image_latents * (~drop_image)[:, None, None, None]

        noise = torch.randn_like(target)
        timesteps = torch.randint(0, NOISE_CONFIG["num_train_timesteps"], (len(edits),),
                                  device=args.device)
        noisy = noise_scheduler.add_noise(target, noise, timesteps)
        velocity = noise_scheduler.get_velocity(target, noise, timesteps)
        prediction = unet(torch.cat([noisy, image_latents], dim=1), timesteps, text).sample
        squared_error = (prediction - velocity) ** 2
        loss = (squared_error * shape_weights(edits, args.shape_weight, args.device)).mean()

        lr = learning_rate(step - start, args.steps - start, warmup, args.lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        ema.step(parameters)
        losses.append(loss.item())

        state["unet_step"] = step + 1
        if (step + 1) % 25 == 0:
            rate = 25 / (time.time() - clock)
            print(f"unet step {step + 1:6d}/{args.steps}  loss {np.mean(losses):.4f}  "
                  f"lr {lr:.1e}  {rate:.2f} it/s", flush=True)
            clock, losses = time.time(), []
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            state["metrics"] = evaluate(models, tokenizer, args)
        if (step + 1) % args.save_every == 0 or step + 1 == args.steps:
            state["unet_optimizer"] = optimizer.state_dict()
            save()


# --- stage 3 (optional): a sharper decoder -----------------------------------------------


def train_decoder(vae: AutoencoderKL, state: dict, args: argparse.Namespace, save) -> None:
    """Fine-tune the VAE decoder alone on the frozen encoder's latents.

    The latent space the UNet learned stays exactly the same; only decoding gets sharper.
    """
    parameters = list(vae.post_quant_conv.parameters()) + list(vae.decoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=args.vae_lr / 2)
    if "decoder_optimizer" in state:
        optimizer.load_state_dict(state["decoder_optimizer"])
    for parameter in parameters:
        parameter.requires_grad_(True)
    vae.decoder.train()
    clock, losses = time.time(), []
    for step in range(state.get("decoder_step", 0), args.decoder_steps):
        torch.manual_seed(args.seed * 1_000_003 + step)
        edits = edit_batch(args.seed, 4, step, args.batch_size)
        images = to_tensor([e.before for e in edits] + [e.after for e in edits], args.device)
        with torch.no_grad():
            latents = vae.encode(images).latent_dist.mode()  # what the pipeline's UNet sees
        reconstruction = vae.decode(latents).sample
        error = (reconstruction - images).abs().mean()
        loss = error + F.mse_loss(reconstruction, images)
        for group in optimizer.param_groups:
            progress = step / args.decoder_steps
            group["lr"] = args.vae_lr / 2 * 0.5 * (1 + math.cos(math.pi * progress))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(error.item() / 2)
        state["decoder_step"] = step + 1
        if (step + 1) % 25 == 0:
            rate = 25 / (time.time() - clock)
            print(f"dec  step {step + 1:6d}/{args.decoder_steps}  L1 {np.mean(losses):.4f}  "
                  f"{rate:.2f} it/s", flush=True)
            clock, losses = time.time(), []
        if (step + 1) % args.save_every == 0 or step + 1 == args.decoder_steps:
            vae.eval()
            state["vae_error"] = reconstruction_error(vae, args)
            print(f"dec  reconstruction L1 {state['vae_error']:.4f}", flush=True)
            state["decoder_optimizer"] = optimizer.state_dict()
            save()
            vae.decoder.train()
    vae.eval()
    vae.requires_grad_(False)


def evaluate(models: dict, tokenizer, args: argparse.Namespace) -> dict:
    """A quick look at the EMA model: L1 to the truth per edit kind on 40 held-out edits."""
    kinds = sorted(set(TRAINING_KINDS))
    edits = world.held_out_edits(8 * len(kinds), kinds)
    with ema_weights(models):
        outputs = make_pipeline(models, tokenizer)(
            prompt=[e.instruction for e in edits],
            image=[world.render_image(e.before) for e in edits],
            num_inference_steps=20,
            guidance_scale=args.text_scale,
            image_guidance_scale=args.image_scale,
            generator=torch.Generator().manual_seed(args.seed),
        ).images
    scores = [quality.score(e, np.asarray(out)) for e, out in zip(edits, outputs, strict=True)]
    metrics = {
        "to_truth": quality.mean_by_kind(scores, "to_truth"),
        "nothing_to_truth": quality.mean_by_kind(scores, "nothing_to_truth"),
        "landed": quality.mean_by_kind(scores, "landed"),
    }
    truth, nothing = metrics["to_truth"], metrics["nothing_to_truth"]
    line = "  ".join(f"{kind} {truth[kind]:.3f}/{nothing[kind]:.3f}" for kind in kinds)
    print(f"eval L1 to truth (model/doing nothing): {line}  landed {metrics['landed']}", flush=True)
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


def save_model(folder: Path, models: dict, tokenizer, state: dict, args) -> None:
    """Write the model folder (EMA weights) with pixchat.json, training.json and a model card."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with ema_weights(models):
        make_pipeline(models, tokenizer).save_pretrained(staging)
    settings = {"text_scale": args.text_scale, "image_scale": args.image_scale, "steps": 20,
                "size": world.SIZE, "scheduler": args.scheduler}
    (staging / "pixchat.json").write_text(json.dumps(settings, indent=2) + "\n")
    keys = ("vae_step", "decoder_step", "unet_step", "vae_error", "metrics", "wall_seconds",
            "commands")
    training = {key: state[key] for key in keys if key in state}
    (staging / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    (staging / "README.md").write_text(model_card(training, settings))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def model_card(training: dict, settings: dict) -> str:
    """The model folder's README: what it is, how it was made, how well it edits."""
    metrics = training.get("metrics", {})
    rows = [f"| {kind} | {metrics['to_truth'][kind]:.3f} | {value:.3f} |"
            for kind, value in sorted(metrics.get("nothing_to_truth", {}).items())]
    commands = "\n".join(f"    {command}" for command in training.get("commands", []))
    return f"""# pixchat demo model

A miniature InstructPix2Pix (diffusers format) trained from scratch by
`editor/demo/train.py` on the procedural world of `editor/demo/world.py`: 32x32 scenes of
1-3 flat shapes (circle, square, triangle) on a plain background, and edits with exact
ground truth: recolour a shape, remove a shape, change the background, darken, brighten.

- VAE: AutoencoderKL {VAE_CONFIG['block_out_channels']}, latents 4x16x16,
  {training.get('vae_step', 0)} steps, then {training.get('decoder_step', 0)} steps of the decoder
  alone; reconstruction L1 {training.get('vae_error', 0):.4f}
- UNet: {UNET_CONFIG['block_out_channels']}, 8 input channels, cross-attention at 16x16 and
  8x8, v-prediction, zero-terminal-SNR schedule, {training.get('unet_step', 0)} steps,
  conditioning dropout 5 % text (target: the input) / 5 % image / 5 % both, EMA weights;
  the loss counts shape pixels `--shape-weight` times as much as background (see the
  commands below)
- text encoder: CLIPTextModel (2 layers, width 64) with a whole-word tokenizer
- sampler: {settings['scheduler']}, trailing timesteps
- recommended: s_T = {settings['text_scale']}, s_I = {settings['image_scale']},
  {settings['steps']} steps, {settings['size']}x{settings['size']}
- wall time: {training.get('wall_seconds', 0) / 60:.0f} minutes

Made by (in order):

{commands}

Quick check on 8 held-out edits per kind (mean L1 to the exact result, 0..1 scale):

| edit | model | doing nothing |
| --- | --- | --- |
{chr(10).join(rows)}

`python benchmarks/demo_quality.py` prints the full quality table.
"""


def git_commit() -> str:
    try:
        result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True)
        return result.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no commit"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_word_tokenizer(world.vocabulary(), args.out / "tokenizer")
    models = {
        "vae": AutoencoderKL(**VAE_CONFIG),
        "unet": UNet2DConditionModel(**UNET_CONFIG),
        "text_encoder": CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), **TEXT_CONFIG)),
    }
    state = {"vae_step": 0, "unet_step": 0, "fresh_optimizer_at": 0, "wall_seconds": 0.0,
             "commands": []}
    if args.resume and (args.resume / "state.pt").exists():
        state = torch.load(args.resume / "state.pt", map_location="cpu", weights_only=False)
        for name, model in models.items():
            model.load_state_dict(state.pop(name))
        models["vae"].register_to_config(**state.pop("vae_config"))
    elif args.resume:  # a bare model folder: its weights, a fresh optimizer
        tokenizer = CLIPTokenizer.from_pretrained(args.resume / "tokenizer")
        models = {"vae": AutoencoderKL.from_pretrained(args.resume / "vae"),
                  "unet": UNet2DConditionModel.from_pretrained(args.resume / "unet"),
                  "text_encoder": CLIPTextModel.from_pretrained(args.resume / "text_encoder")}
        state.update(json.loads((args.resume / "training.json").read_text()))
        state["fresh_optimizer_at"] = state["unet_step"]
        args.steps += state["unet_step"]
    for model in models.values():
        model.to(args.device)
    state["commands"].append(f"python -m editor.demo.train {' '.join(sys.argv[1:])}"
                             f"  # commit {git_commit()}")
    started = time.time() - state["wall_seconds"]

    def save() -> None:
        state["wall_seconds"] = time.time() - started
        checkpoint = {name: model.state_dict() for name, model in models.items()
                      if name != "ema"}
        checkpoint["vae_config"] = {"scaling_factor": models["vae"].config.scaling_factor}
        if "ema" in models:
            checkpoint["ema"] = models["ema"].state_dict()
            save_model(args.out / "model", models, tokenizer, state, args)
        torch.save({**state, **checkpoint}, args.out / "state.pt.partial")
        os.replace(args.out / "state.pt.partial", args.out / "state.pt")
        print(f"saved step vae {state['vae_step']} unet {state['unet_step']} to {args.out}",
              flush=True)

    if "vae_error" not in state:
        train_vae(models["vae"], state, args, save)
    train_unet(models, tokenizer, state, args, save)
    if state.get("decoder_step", 0) < args.decoder_steps:
        train_decoder(models["vae"], state, args, save)
    print(f"done after {(time.time() - started) / 60:.0f} minutes of training in all: "
          f"{args.out / 'model'}", flush=True)


if __name__ == "__main__":
    main()
