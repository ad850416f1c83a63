"""The dual-guidance InstructPix2Pix editor: diffusers components, our own sampling loop.

At every denoising step the UNet predicts the noise under three conditions, batched into
one call, and `denoise` combines them:

    eps = eps(z, ∅, ∅)
        + s_I * (eps(z, c_I, ∅)  - eps(z, ∅, ∅))     # pull toward the input image
        + s_T * (eps(z, c_I, c_T) - eps(z, c_I, ∅))   # pull toward the instruction

for any s_T >= 0 and s_I >= 0 (diffusers' pipeline turns all guidance off when s_I < 1;
this loop does not). Regrouped, the three predictions are weighted s_T, s_I - s_T and
1 - s_I, so a condition whose weight is zero is not computed at all: at s_T = s_I the
image-only prediction drops out and each step costs two thirds. Several (s_T, s_I) pairs run
as one batch: that is how the options grid shares one text encoding, one image encoding and
every UNet call. `edit_batch` goes one further: several requests (other images, other
instructions, other seeds) that share steps, scheduler and working size run through the same
UNet calls, which is how the Ray Serve deployment (`editor/serve.py`) batches the edits of
several people. A model whose `pixchat.json` sets `render_unedited` also renders, in the same
batch, each s_I's no-edit pair (s_T = 0): its results are composed to full size from that.
"""

# pyright: reportAttributeAccessIssue=false, reportArgumentType=false, reportReturnType=false
# (diffusers' annotations do not match it at run time: `config.in_channels` works, `.to()`
# returns the module, `encode(...).latent_dist` exists.)

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np
import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    AutoModel,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    UNet2DConditionModel,
)
from diffusers.image_processor import VaeImageProcessor
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img import (
    retrieve_latents,
)
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image
from transformers import CLIPTextModel, CLIPTokenizer

from .base import (
    SCHEDULERS,
    EditRequest,
    EditResult,
    ModelDefaults,
    StepCallback,
)
from .errors import Cancelled, EditorError, ModelNotFound
from .grid import GridResult, assemble_grid, grid_scales
from .images import to_rgb
from .masks import edit_mask, fit_region, latent_region, region_at
from .models import locate_model, read_repertoire, recommended_defaults, vae_scale_factor
from .resolution import working_size

# Sampler name (`base.SCHEDULERS`) -> scheduler class and the options that make it that sampler.
SCHEDULER_CLASSES = {
    "euler_ancestral": (EulerAncestralDiscreteScheduler, {}),  # InstructPix2Pix's own
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "euler": (EulerDiscreteScheduler, {}),  # no noise added back: the same steps, deterministic
}


ScalePair = tuple[float, float]  # (s_T, s_I)


@dataclass
class _Job:
    """A request made ready to sample: its settings checked, its defaults filled in."""

    request: EditRequest
    pairs: list[ScalePair]  # the results asked for
    sampled: list[ScalePair]  # the pairs denoised: `pairs` first, then any no-edit renderings
    instruction: str
    steps: int
    scheduler: str
    seed: int
    size: tuple[int, int]  # working size (width, height)
    region: Image.Image | None  # the person's mask at the image's size
    confine: bool


def choose_device(
    device: str | torch.device | None, dtype: str | torch.dtype | None
) -> tuple[torch.device, torch.dtype]:
    """CUDA in float16 when present, else CPU in float32; either can be overridden."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dtype is None:
        dtype = torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise EditorError("Unknown dtype; use float32, float16 or bfloat16.")
    return device, dtype


class Pix2PixEditor:
    """An InstructPix2Pix editor (UNet with 8 input channels) with dual guidance."""

    def __init__(
        self,
        unet: UNet2DConditionModel,
        vae: AutoencoderKL | AutoencoderTiny,
        text_encoder: CLIPTextModel,
        tokenizer: CLIPTokenizer,
        scheduler_config: dict,
        defaults: ModelDefaults,
        model_id: str,
        revision: str | None = None,
        repertoire: dict | None = None,
    ):
        if unet.config.in_channels != 2 * vae.config.latent_channels:
            raise EditorError(
                f"Model '{model_id}' is not an InstructPix2Pix model: its UNet takes "
                f"{unet.config.in_channels} input channels, not {2 * vae.config.latent_channels}."
            )
        self.unet = unet
        self.vae = vae
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.scheduler_config = scheduler_config
        self.schedulers = {
            name: scheduler_class.from_config(scheduler_config, **options)
            for name, (scheduler_class, options) in SCHEDULER_CLASSES.items()
        }
        self.defaults = defaults
        self.model_id = model_id
        self.revision = revision
        self.repertoire = repertoire  # what the model says it can do; None: anything
        self.vae_scale_factor = vae_scale_factor(vae.config)
        # Read once: diffusers walks every submodule to answer `unet.device` and `unet.dtype`.
        self.device = unet.device
        self.dtype = unet.dtype
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale_factor)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str = "demo",
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> Pix2PixEditor:
        """Load a model by short name (see `editor.models`), local folder or hub id."""
        source = locate_model(name_or_path)
        device, dtype = choose_device(device, dtype)
        where: dict[str, Any] = {"revision": source.revision}
        try:
            unet = UNet2DConditionModel.from_pretrained(
                source.path, subfolder="unet", torch_dtype=dtype, **where
            )
            vae = AutoModel.from_pretrained(  # its config names the class: KL or Tiny
                source.path, subfolder="vae", torch_dtype=dtype, **where
            )
            text_encoder = CLIPTextModel.from_pretrained(
                source.path, subfolder="text_encoder", dtype=dtype, **where
            )
            tokenizer = CLIPTokenizer.from_pretrained(source.path, subfolder="tokenizer", **where)
            scheduler_config = EulerAncestralDiscreteScheduler.load_config(
                source.path, subfolder="scheduler", **where
            )
        except OSError as error:
            reason = str(error).strip().splitlines()[0].rstrip(".")
            raise ModelNotFound(
                f"Model '{name_or_path}' could not be loaded from {source.path} ({reason}); "
                "fetch it again or point to a complete diffusers InstructPix2Pix folder."
            ) from None
        native_size = unet.config.sample_size * vae_scale_factor(vae.config)
        return cls(
            unet.to(device),
            vae.to(device),
            text_encoder.to(device),
            tokenizer,
            scheduler_config,
            recommended_defaults(source, native_size),
            source.model_id,
            source.revision,
            read_repertoire(source.path) if source.revision is None else None,
        )

    def repertoire_for(self, image: Image.Image) -> dict | None:
        """What this model says it can do (the same for every image)."""
        return self.repertoire

    def edit(self, request: EditRequest) -> EditResult:
        """Apply the request's instruction; unset scales and steps are the model's defaults."""
        return self.edit_batch([(request, [request.scales(self.defaults)])])[0][0]

    def grid(
        self,
        request: EditRequest,
        text_scales: Sequence[float] | None = None,
        image_scales: Sequence[float] | None = None,
    ) -> GridResult:
        """Edit with every (s_T, s_I) pair in one batch, plus a labelled contact sheet.

        Rows are `text_scales`, columns `image_scales` (by default a spread around the
        model's defaults). Every cell uses the request's seed, so a cell is the image a
        single edit with its scales gives. The request's own scales are ignored.
        """
        text_scales, image_scales = grid_scales(self.defaults, text_scales, image_scales)
        pairs = [(s_t, s_i) for s_t in text_scales for s_i in image_scales]
        return assemble_grid(self.edit_batch([(request, pairs)])[0], text_scales, image_scales)

    def edit_batch(
        self, jobs: Sequence[tuple[EditRequest, Sequence[ScalePair]]]
    ) -> list[list[EditResult]]:
        """Several requests, each at its own (s_T, s_I) pairs, one result per pair.

        Requests that share steps, scheduler and working size are denoised together, in one
        batch of UNet calls; each keeps its own image, instruction, seed and region, so its
        results are the ones it would get alone (up to the float rounding of a larger batch).
        Each request's `on_step` is told every step; the batch stops (`Cancelled`) only when
        every request in it has asked to.
        """
        ready = [self._ready(request, pairs) for request, pairs in jobs]
        groups: dict[tuple, list[int]] = {}
        for index, job in enumerate(ready):
            groups.setdefault((job.steps, job.scheduler, job.size), []).append(index)
        results: list[list[EditResult]] = [[] for _ in ready]
        for indices in groups.values():
            group_results = self._edit_together([ready[index] for index in indices])
            for index, job_results in zip(indices, group_results, strict=True):
                results[index] = job_results
        return results

    @torch.inference_mode()
    def encode_instruction(self, instruction: str) -> torch.Tensor:
        """Text embeddings of the instruction and of the empty text, stacked (2, tokens, dim)."""
        tokens = self.tokenizer(
            [instruction, ""],
            padding="max_length",
            max_length=self.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        attention_mask = None
        if getattr(self.text_encoder.config, "use_attention_mask", False):
            attention_mask = tokens.attention_mask.to(self.device)
        input_ids = tokens.input_ids.to(self.device)
        return self.text_encoder(input_ids, attention_mask=attention_mask)[0].to(self.dtype)

    @torch.inference_mode()
    def encode_image(self, image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
        """The image's latents at `size` (width, height), unscaled, as InstructPix2Pix expects."""
        width, height = size
        pixels = self.image_processor.preprocess(image, height=height, width=width)
        return retrieve_latents(self.vae.encode(pixels.to(self.device, self.dtype)),
                                sample_mode="argmax")

    @torch.inference_mode()
    def denoise(
        self,
        text_embeddings: torch.Tensor,
        image_latents: torch.Tensor,
        scales: Sequence[ScalePair],
        *,
        steps: int,
        seed: int | Sequence[int],
        scheduler: str,
        confine: bool | Sequence[bool] = False,
        region: torch.Tensor | None | Sequence[torch.Tensor | None] = None,
        on_step: StepCallback | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample one latent per (s_T, s_I) pair, all in one batch.

        `text_embeddings` stacks the instructions' embeddings over the empty text's (from
        `encode_instruction`); they, `image_latents`, `seed`, `confine` and `region` are
        either one for every pair or one per pair. Pairs with the same seed start from, and
        draw, the same noise.

        Also returns each pair's relevance map (count, h, w): how much the instruction changes
        the first step's noise prediction, which is where it acts. A confined pair's latents
        outside that region (and outside `region`, the person's mask at latent size) are put
        back after every step to the input's, noised to the next step's level, as Blended
        Latent Diffusion does: a local edit cannot wander.
        """
        if scheduler not in self.schedulers:
            raise EditorError(
                f"Unknown scheduler '{scheduler}'; choose one of: {', '.join(SCHEDULERS)}."
            )
        sampler = copy.deepcopy(self.schedulers[scheduler])  # runs never share scheduler state
        sampler.set_timesteps(steps, device=self.device)
        count = len(scales)
        seeds = _per_pair(seed, count, int)
        confined = _per_pair(confine, count, bool)
        regions = _per_pair(region, count, (torch.Tensor, type(None)))
        generators = [torch.Generator("cpu").manual_seed(one) for one in seeds]
        shape = (count, self.vae.config.latent_channels, *image_latents.shape[-2:])
        start_noise = randn_tensor(shape, generator=generators, device=self.device,
                                   dtype=self.dtype)
        latents = start_noise * sampler.init_noise_sigma

        # The three conditions and each pair's weight for them: (image, instruction) s_T,
        # (image, empty text) s_I - s_T, (no image, empty text) 1 - s_I. Only the conditions
        # some pair weighs run; the first step also runs the first two, whatever their
        # weights, since their difference is the relevance map.
        instruction, empty_text = (half.expand(count, *half.shape[1:])
                                   for half in text_embeddings.chunk(2))
        image_latents = image_latents.expand(count, *image_latents.shape[1:])
        conditions = [(image_latents, instruction), (image_latents, empty_text),
                      (torch.zeros_like(image_latents), empty_text)]
        weights = torch.tensor([[s_t, s_i - s_t, 1 - s_i] for s_t, s_i in scales])
        weighed = [index for index in range(3) if weights[:, index].any()]
        weights = weights.T.reshape(3, count, 1, 1, 1).to(self.device, self.dtype)
        input_latents = image_latents * self.vae.config.scaling_factor
        keep_region, relevance = None, torch.empty(0)  # set by the first step

        total = len(sampler.timesteps)
        for step, t in enumerate(sampler.timesteps, start=1):
            used = sorted({0, 1, *weighed}) if step == 1 else weighed
            noise = self._predict_noise(latents, t, [conditions[index] for index in used],
                                        sampler)
            if step == 1:
                relevance = (noise[used.index(0)] - noise[used.index(1)]).abs().mean(dim=1)
                if any(confined):
                    keep_region = self._latent_region(relevance, confined, regions)
            noise = (weights[used] * noise).sum(dim=0)
            latents = sampler.step(noise, t, latents, generator=generators).prev_sample
            if keep_region is not None:
                original = input_latents if step == total else sampler.add_noise(
                    input_latents, start_noise, sampler.timesteps[step:step + 1])
                latents = keep_region * latents + (1 - keep_region) * original
            if on_step is not None and on_step(step, total) is False:
                raise Cancelled(f"Edit cancelled at step {step} of {total}; nothing was changed.")
        return latents, relevance

    def _predict_noise(self, latents, t, conditions, sampler) -> torch.Tensor:
        """The UNet's prediction for every latent under each (image, text) condition, in one
        call: (conditions, count, channels, h, w)."""
        model_input = sampler.scale_model_input(torch.cat([latents] * len(conditions)), t)
        images = torch.cat([image for image, _ in conditions])
        texts = torch.cat([text for _, text in conditions])
        model_input = torch.cat([model_input, images], dim=1)
        noise = self.unet(model_input, t, encoder_hidden_states=texts).sample
        return noise.view(len(conditions), *latents.shape)

    def _latent_region(self, relevance: torch.Tensor, confined: list[bool],
                       regions: list[torch.Tensor | None]) -> torch.Tensor:
        """Where each pair may change, at latent size (count, 1, h, w): everywhere for a pair
        that is not confined, else from its relevance map and the person's region."""
        masks = []
        for one, confine, region in zip(relevance.cpu(), confined, regions, strict=True):
            mask = latent_region(one) if confine else torch.ones_like(one)
            masks.append(mask if region is None else mask * region)
        return torch.stack(masks)[:, None].to(self.device, self.dtype)

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], shape (n, 3, height, width)."""
        images = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        return self.image_processor.postprocess(images, output_type="pt")

    def _ready(self, request: EditRequest, pairs: Sequence[ScalePair]) -> _Job:
        """Check a request and fill in the model's defaults; raises `EditorError`."""
        instruction = request.instruction.strip()
        if not instruction:
            raise EditorError("The instruction is empty; say what to change, e.g. 'make it snowy'.")
        if any(scale < 0 for pair in pairs for scale in pair):
            raise EditorError("Guidance scales must be 0 or more; raise the negative one.")
        steps = _default(request.steps, self.defaults.steps)
        if steps < 1:
            raise EditorError(f"Steps must be at least 1, not {steps}.")
        region = None if request.region is None else fit_region(request.region,
                                                                 request.image.size)
        pairs = sampled = list(pairs)
        if self.defaults.render_unedited:  # each s_I's no-edit pair too, unless asked for
            unedited = [(0.0, s_i) for s_i in dict.fromkeys(s_i for _, s_i in pairs)]
            sampled = pairs + [pair for pair in unedited if pair not in pairs]
        return _Job(
            request=request,
            pairs=pairs,
            sampled=sampled,
            instruction=instruction,
            steps=steps,
            scheduler=request.scheduler or self.defaults.scheduler,
            seed=request.seed if request.seed is not None else secrets.randbelow(2**32),
            size=working_size(request.image.size, self.defaults.size, self.vae_scale_factor),
            region=region,
            confine=request.confine or region is not None,
        )

    def _edit_together(self, jobs: list[_Job]) -> list[list[EditResult]]:
        """Encode each job, denoise every job's pairs in one batch, decode each job."""
        start = perf_counter()
        texts = [self.encode_instruction(job.instruction) for job in jobs]
        images = [self.encode_image(to_rgb(job.request.image), job.size) for job in jobs]
        encoded = perf_counter()
        latent_size = tuple(images[0].shape[-1:-3:-1])
        # One batch item per (job, pair).
        counts = [len(job.sampled) for job in jobs]

        def per_pair(values: list) -> list:
            return [value for value, count in zip(values, counts, strict=True)
                    for _ in range(count)]

        def stacked(tensors: list[torch.Tensor]) -> torch.Tensor:
            return torch.cat([one.expand(count, *one.shape[1:])
                              for one, count in zip(tensors, counts, strict=True)])

        instructions, empty_texts = zip(*(text.chunk(2) for text in texts), strict=True)
        cancelled = [False] * len(jobs)

        def on_step(step: int, total: int) -> bool:
            for index, job in enumerate(jobs):
                if not cancelled[index] and job.request.on_step is not None:
                    cancelled[index] = job.request.on_step(step, total) is False
            return not all(cancelled)

        latents, relevance = self.denoise(
            torch.cat([stacked(list(instructions)), stacked(list(empty_texts))]),
            stacked(images),
            [pair for job in jobs for pair in job.sampled],
            steps=jobs[0].steps,
            seed=per_pair([job.seed for job in jobs]),
            scheduler=jobs[0].scheduler,
            confine=per_pair([job.confine for job in jobs]),
            region=per_pair([None if job.region is None else region_at(job.region, latent_size)
                             for job in jobs]),
            on_step=on_step if any(job.request.on_step for job in jobs) else None,
        )
        denoised = perf_counter()
        results = []
        ends = np.cumsum(counts).tolist()
        for job, image_latents, end in zip(jobs, images, ends, strict=True):
            begin = end - len(job.sampled)
            decoding = perf_counter()
            job_results = self._results(job, image_latents, latents[begin:end],
                                        relevance[begin:end])
            # The batch's encoding and denoising are shared; decoding is each job's own.
            timings = {"encode": encoded - start, "denoise": denoised - encoded,
                       "decode": perf_counter() - decoding}
            timings["total"] = sum(timings.values())
            for result in job_results:
                result.timings = dict(timings)
            results.append(job_results)
        return results

    def _results(self, job: _Job, image_latents: torch.Tensor, latents: torch.Tensor,
                 relevance: torch.Tensor) -> list[EditResult]:
        """Decode one job's latents, and describe each result beside what it was made from:
        the picture as the model sees it, which the full-size composite maps from. That is the
        input decoded (the VAE's round trip) or, for a model that asks for it, its own no-edit
        rendering at the same s_I from the same noise."""
        if self.defaults.render_unedited:
            decoded = self.image_processor.pt_to_numpy(self.decode(latents))
            by_pair = dict(zip(job.sampled, decoded, strict=True))
            seen = [by_pair[(0.0, s_i)] for _, s_i in job.pairs]
        else:
            scaled_input = image_latents * self.vae.config.scaling_factor
            decoded = self.image_processor.pt_to_numpy(
                self.decode(torch.cat([latents, scaled_input])))
            seen = [decoded[-1]] * len(job.pairs)  # the input, decoded after the results
        outputs, relevance = decoded[:len(job.pairs)], relevance[:len(job.pairs)].cpu()
        masks = [final_mask(one, output, one_seen, job.confine, job.region)
                 for one, output, one_seen in zip(relevance, outputs, seen, strict=True)]
        images = self.image_processor.numpy_to_pil(outputs)
        seen = self.image_processor.numpy_to_pil(np.stack(seen))
        return [
            EditResult(
                image=image,
                seen=one_seen,
                mask=mask,
                model_id=self.model_id,
                revision=self.revision,
                scheduler=job.scheduler,
                steps=job.steps,
                seed=job.seed,
                text_scale=float(text_scale),
                image_scale=float(image_scale),
                width=job.size[0],
                height=job.size[1],
                device=str(self.device),
                dtype=str(self.dtype).removeprefix("torch."),
                colour_only=self.defaults.colour_only,
            )
            for image, one_seen, mask, (text_scale, image_scale) in zip(
                images, seen, masks, job.pairs, strict=True)
        ]


def final_mask(
    relevance: torch.Tensor, output: np.ndarray, seen: np.ndarray, confine: bool,
    region: Image.Image | None,
) -> Image.Image:
    """Where an edit may change the picture ("L" at working size): everywhere for a restyle;
    for a confined edit, where the instruction acts and the output changed what the model saw,
    within the person's region if any."""
    height, width = output.shape[:2]
    mask = edit_mask(relevance, output, seen) if confine else torch.ones(height, width)
    if region is not None:
        mask = mask * region_at(region, (width, height))
    return Image.fromarray((mask * 255).round().to(torch.uint8).numpy(), mode="L")


def _per_pair(value, count: int, kind) -> list:
    """`value` for each of `count` pairs: itself if it is one of `kind`, else its items."""
    values = [value] * count if isinstance(value, kind) else list(value)
    if len(values) != count:
        raise ValueError(f"Expected one value or {count}, got {len(values)}.")
    return values


def _default(value, default):
    """`value`, or `default` when it is None (0 is a real value)."""
    return default if value is None else value
