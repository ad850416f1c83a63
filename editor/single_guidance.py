"""Editors with one guidance scale, on diffusers' own pipelines: FLUX.1 Kontext
(`FluxKontextPipeline`), Qwen-Image-Edit (`QwenImageEditPlusPipeline`), and Stable Diffusion
inpainting (`StableDiffusionInpaintPipeline`), which repaints only inside a mask.

They have no image guidance: the input image is part of the context the model attends to,
and one scale says how strongly to follow the instruction, which pixchat calls s_T ("how
big a change"): Kontext's distilled `guidance_scale`, Qwen's `true_cfg_scale`. Their
`defaults.image_guidance` is False, so the agent and the app offer s_T alone, and an options
grid is a column of s_T values.

Like the InstructPix2Pix editor they edit a copy at working size and return what
`editor.compose` needs to bring the edit to the person's own size: the input as the model's
VAE reproduces it (`seen`) and the edit mask. They have no relevance map, so a confined edit's
mask is where the result changed most (`masks.edit_mask` over the whole picture), within the
person's region if any.

Qwen's negative-prompt trap: `QwenImageEditPlusPipeline` applies `true_cfg_scale` only when a
negative prompt is given; without one it silently samples without guidance. The editor always
passes `NEGATIVE_PROMPT`.
"""

# pyright: reportAttributeAccessIssue=false, reportCallIssue=false
# (diffusers' pipelines are typed loosely: `vae.encode(...).latent_dist`, call keywords.)

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import numpy as np
import torch
from diffusers import (
    FluxKontextPipeline,
    QwenImageEditPlusPipeline,
    StableDiffusionInpaintPipeline,
)
from PIL import Image
from transformers import AutoImageProcessor, AutoTokenizer, BatchFeature

from .base import EditRequest, EditResult, ModelDefaults
from .errors import Cancelled, EditorError, ModelNotFound
from .grid import GridResult, contact_sheet, default_grid_scales
from .images import to_rgb
from .masks import fit_region
from .models import ModelSource, recommended_defaults
from .pix2pix import final_mask
from .resolution import resize_to, working_size

NEGATIVE_PROMPT = " "  # what makes Qwen's pipeline apply true_cfg_scale (see the module)
OFFLOAD_MODES = ("model", "sequential")  # enable_model_cpu_offload, ..._sequential_cpu_offload


def choose_dtype(device: torch.device, dtype: str | torch.dtype | None) -> torch.dtype:
    """bfloat16 on a GPU (FLUX and Qwen overflow in float16), float32 on the CPU."""
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    dtype = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if not isinstance(dtype, torch.dtype):
        raise EditorError("Unknown dtype; use float32, float16 or bfloat16.")
    return dtype


class SingleGuidanceEditor:
    """A diffusers editing pipeline with one guidance scale behind the `Editor` protocol."""

    pipeline_class: Any  # the diffusers pipeline
    name: str  # how replies and errors name the model family
    multiple_factor = 2  # latents packed in 2×2 patches: sides a multiple of 2 latent pixels

    def __init__(self, pipeline: Any, defaults: ModelDefaults, model_id: str,
                 revision: str | None = None, device: torch.device | None = None):
        self.pipeline = pipeline
        self.defaults = defaults
        self.model_id = model_id
        self.revision = revision
        self.repertoire = None  # a real checkpoint: anything
        self.device = device or pipeline.device
        self.dtype = pipeline.vae.dtype
        self.multiple = pipeline.vae_scale_factor * self.multiple_factor

    @classmethod
    def from_pretrained(cls, source: ModelSource, device: str | torch.device | None = None,
                        dtype: str | torch.dtype | None = None, offload: str | None = None):
        """Load the pipeline of a located model; `offload` ("model" or "sequential") keeps
        weights on the CPU and moves each part to the GPU only while it runs."""
        if offload is not None and offload not in OFFLOAD_MODES:
            raise EditorError(f"Unknown offload '{offload}'; use one of: "
                              f"{', '.join(OFFLOAD_MODES)}.")
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = choose_dtype(device, dtype)
        try:
            pipeline = cls.pipeline_class.from_pretrained(
                source.path, dtype=dtype, revision=source.revision,
                **dict.fromkeys(cls.own_components(source)))
            for name, component in cls.own_components(source).items():
                setattr(pipeline, name, component)
        except OSError as error:
            reason = str(error).strip().splitlines()[0].rstrip(".")
            raise ModelNotFound(
                f"Model '{source.model_id}' could not be loaded from {source.path} ({reason}); "
                f"fetch it again or point to a complete diffusers {cls.name} folder."
            ) from None
        pipeline.set_progress_bar_config(disable=True)  # pixchat draws its own
        if offload is not None and device.type == "cuda":
            getattr(pipeline, f"enable_{offload}_cpu_offload")()
        else:
            pipeline.to(device)
        return cls(pipeline, recommended_defaults(source), source.model_id, source.revision,
                   device)

    @classmethod
    def own_components(cls, source: ModelSource) -> dict[str, Any]:
        """Components pixchat loads itself instead of the pipeline (none by default)."""
        return {}

    def repertoire_for(self, image: Image.Image) -> dict | None:
        return None

    def edit(self, request: EditRequest) -> EditResult:
        """Apply the request's instruction; unset scale and steps are the model's defaults."""
        return self._edit_one(request, request.scales(self.defaults)[0])

    def grid(self, request: EditRequest, text_scales: Sequence[float] | None = None,
             image_scales: Sequence[float] | None = None) -> GridResult:
        """The request at each s_T, one row each, in a single column (there is no s_I)."""
        if image_scales:
            raise EditorError(self._no_image_guidance())
        text_scales = list(text_scales or default_grid_scales(self.defaults)[0])
        rows = [[self._edit_one(request, text_scale)] for text_scale in text_scales]
        sheet = contact_sheet([[row[0].image] for row in rows], text_scales, [])
        return GridResult(rows, sheet, text_scales, [])

    def _no_image_guidance(self) -> str:
        return (f"Model '{self.model_id}' ({self.name}) has one guidance scale and no image "
                "guidance (s_I); leave s_I out and set s_T for how big a change.")

    def _edit_one(self, request: EditRequest, text_scale: float) -> EditResult:
        instruction = request.instruction.strip()
        if not instruction:
            raise EditorError("The instruction is empty; say what to change, e.g. 'make it snowy'.")
        if request.image_scale is not None:
            raise EditorError(self._no_image_guidance())
        if request.scheduler not in (None, self.defaults.scheduler):
            raise EditorError(f"Model '{self.model_id}' samples with its own "
                              f"{self.defaults.scheduler} scheduler; leave the scheduler out.")
        if text_scale < 0:
            raise EditorError("Guidance scales must be 0 or more; raise the negative one.")
        steps = self.defaults.steps if request.steps is None else request.steps
        if steps < 1:
            raise EditorError(f"Steps must be at least 1, not {steps}.")
        seed = request.seed if request.seed is not None else secrets.randbelow(2**32)
        region = None if request.region is None else fit_region(request.region,
                                                                 request.image.size)
        width, height = working_size(request.image.size, self.defaults.size, self.multiple)
        image = resize_to(to_rgb(request.image), (width, height))

        def on_step_end(pipeline, index: int, timestep, tensors: dict) -> dict:
            total = pipeline.num_timesteps  # PNDM, for one, takes a step more than asked
            if request.on_step is not None and request.on_step(index + 1, total) is False:
                raise Cancelled(f"Edit cancelled at step {index + 1} of {total}; nothing was "
                                "changed.")
            return {}

        start = perf_counter()
        with torch.inference_mode():
            output = self.pipeline(
                image=image, prompt=instruction, num_inference_steps=steps, height=height,
                width=width, generator=torch.Generator("cpu").manual_seed(seed),
                output_type="np", callback_on_step_end=on_step_end,
                **self.call_arguments(text_scale, image, region),
            ).images[0]
            denoised = perf_counter()
            seen = self.round_trip(image)
        done = perf_counter()
        confine = request.confine or region is not None
        anywhere = torch.ones(1, 1)  # no relevance map: the instruction may act anywhere
        mask = final_mask(anywhere, output, seen, confine, region)
        return EditResult(
            image=_pil(output), seen=_pil(seen), mask=mask, model_id=self.model_id,
            revision=self.revision, scheduler=self.defaults.scheduler, steps=steps, seed=seed,
            text_scale=float(text_scale), image_scale=None, width=width, height=height,
            device=str(self.device), dtype=str(self.dtype).removeprefix("torch."),
            timings={"denoise": denoised - start, "decode": done - denoised,
                     "total": done - start},
        )

    def call_arguments(self, text_scale: float, image: Image.Image,
                       region: Image.Image | None) -> dict[str, Any]:
        """The pipeline's own keywords for s_T, for the working-size `image`, and for the
        person's `region` (at the input's size) if it needs it."""
        raise NotImplementedError

    def round_trip(self, image: Image.Image) -> np.ndarray:
        """The image (at working size) encoded and decoded by the model's VAE: (h, w, 3) in
        0..1, the picture as the model sees it."""
        pipeline = self.pipeline
        pixels = pipeline.image_processor.preprocess(image, image.height, image.width)
        vae = pipeline.vae
        latents = vae.encode(pixels.to(self.device, vae.dtype)).latent_dist.mode()
        decoded = vae.decode(latents).sample
        return pipeline.image_processor.postprocess(decoded, output_type="np")[0]


class KontextEditor(SingleGuidanceEditor):
    """FLUX.1 Kontext: its distilled guidance scale is s_T; the image sits in its context."""

    pipeline_class = FluxKontextPipeline
    name = "FLUX.1 Kontext"

    def call_arguments(self, text_scale: float, image: Image.Image,
                       region: Image.Image | None) -> dict[str, Any]:
        # pixchat chooses the working size; Kontext's own resizing to its preferred
        # resolutions would change the picture's shape.
        return {"guidance_scale": text_scale, "max_area": image.width * image.height,
                "_auto_resize": False}


class QwenEditEditor(SingleGuidanceEditor):
    """Qwen-Image-Edit (2509): `true_cfg_scale` is s_T, always with a negative prompt."""

    pipeline_class = QwenImageEditPlusPipeline
    name = "Qwen-Image-Edit"

    @classmethod
    def own_components(cls, source: ModelSource) -> dict[str, Any]:
        image_processor = AutoImageProcessor.from_pretrained(
            source.path, subfolder="processor", revision=source.revision)
        tokenizer = AutoTokenizer.from_pretrained(source.path, subfolder="tokenizer",
                                                  revision=source.revision)
        return {"processor": ImageTextProcessor(image_processor, tokenizer)}

    def call_arguments(self, text_scale: float, image: Image.Image,
                       region: Image.Image | None) -> dict[str, Any]:
        return {"true_cfg_scale": text_scale, "negative_prompt": NEGATIVE_PROMPT}

    def round_trip(self, image: Image.Image) -> np.ndarray:
        pipeline = self.pipeline
        pixels = pipeline.image_processor.preprocess(image, image.height, image.width)
        vae = pipeline.vae
        frames = pixels.unsqueeze(2).to(self.device, vae.dtype)  # a video of one frame
        latents = vae.encode(frames).latent_dist.mode()
        decoded = vae.decode(latents).sample[:, :, 0]
        return pipeline.image_processor.postprocess(decoded, output_type="np")[0]


class InpaintEditor(SingleGuidanceEditor):
    """Stable Diffusion inpainting: repaints the request's region from its instruction, which
    describes what should be there ("a bicycle"); `guidance_scale` is s_T. Every edit needs a
    region: the person's mask, or the object `editor.grounding` found."""

    pipeline_class = StableDiffusionInpaintPipeline
    name = "Stable Diffusion inpainting"
    multiple_factor = 1  # latents are not packed

    def call_arguments(self, text_scale: float, image: Image.Image,
                       region: Image.Image | None) -> dict[str, Any]:
        if region is None:
            raise EditorError(f"Model '{self.model_id}' ({self.name}) repaints only inside a "
                              "mask; give one (--mask, or the app's region upload), or name "
                              "an object to replace with a grounded model (sam-inpaint).")
        mask = region.resize(image.size, Image.Resampling.BILINEAR)
        return {"guidance_scale": text_scale, "mask_image": mask, "strength": 1.0}


class ImageTextProcessor:
    """The part of transformers' `Qwen2VLProcessor` that Qwen-Image-Edit calls: the image
    processor's patches, and the text with each image token repeated once per merged patch.

    `Qwen2VLProcessor` itself cannot be built without torchvision (for its video half, which
    an image editor never uses), and pixchat does not depend on torchvision.
    """

    def __init__(self, image_processor: Any, tokenizer: Any, image_token: str = "<|image_pad|>"):
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.image_token = image_token

    def __call__(self, text: list[str], images: Any, padding: bool = True,
                 return_tensors: str = "pt") -> BatchFeature:
        vision = self.image_processor(images=images, return_tensors=return_tensors)
        merged = self.image_processor.merge_size ** 2
        counts = iter(int(grid.prod()) // merged for grid in vision["image_grid_thw"])
        token = re.escape(self.image_token)
        text = [re.sub(token, lambda _: self.image_token * next(counts), one) for one in text]
        tokens = self.tokenizer(text, padding=padding, return_tensors=return_tensors)
        return BatchFeature({**tokens, **vision})


def _pil(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8))
