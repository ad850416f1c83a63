"""Which checkpoint a model name means, where its files are, and its recommended settings.

A model is named by a short name from `KNOWN_MODELS`, a local folder in diffusers layout,
or a Hugging Face Hub id. Its `model_index.json` names its diffusers pipeline, which says
which editor runs it (`PIPELINES`): InstructPix2Pix (the default, also for a folder without
one), FLUX.1 Kontext or Qwen-Image-Edit. A folder may hold a `pixchat.json` with the
model's recommended settings (`text_scale`, `image_scale`, `steps`, `size`, `scheduler`); it
takes precedence over the registry, which takes precedence over the pipeline's own settings
(whether a model has image guidance is its pipeline's, not a setting). The embedded models'
`pixchat.json` also declares their `repertoire`: the edit kinds they learned and the words
they know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from huggingface_hub import constants, snapshot_download

from .base import DEFAULT_SCHEDULER, SCHEDULERS, ModelDefaults
from .errors import EditorError, ModelNotFound

DEMO_MODEL_DIR = Path(__file__).parent / "demo" / "model"
DEMO_PHOTO_MODEL_DIR = Path(__file__).parent / "demo" / "photo_model"
SETTINGS_FILE = "pixchat.json"
COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
INDEX_FILE = "model_index.json"
PIX2PIX = "StableDiffusionInstructPix2PixPipeline"

# The settings of the InstructPix2Pix paper: the defaults of any model that names none.
IP2P_SETTINGS = {"text_scale": 7.5, "image_scale": 1.5, "steps": 20, "size": 512}
# Single-guidance editors: s_T is the pipeline's one scale; they sample with their own
# flow-matching scheduler at about a megapixel. image_scale is unused (no image guidance).
KONTEXT_SETTINGS = {"text_scale": 2.5, "image_scale": 0.0, "steps": 28, "size": 1024,
                    "scheduler": "flow_match_euler", "image_guidance": False}
QWEN_EDIT_SETTINGS = {"text_scale": 4.0, "image_scale": 0.0, "steps": 40, "size": 1024,
                      "scheduler": "flow_match_euler", "image_guidance": False}
# Inpainting has s_T alone too, and repaints a mask (from the person, or from grounding).
INPAINT_SETTINGS = {"text_scale": 7.5, "image_scale": 0.0, "steps": 25, "size": 512,
                    "scheduler": "pndm", "image_guidance": False}
# Diffusers pipeline class (model_index.json's `_class_name`) -> its settings.
PIPELINES = {
    PIX2PIX: IP2P_SETTINGS,
    "FluxKontextPipeline": KONTEXT_SETTINGS,
    "QwenImageEditPlusPipeline": QWEN_EDIT_SETTINGS,
    "StableDiffusionInpaintPipeline": INPAINT_SETTINGS,
}
GROUNDING_PARTS = ("detector", "segmenter")  # a grounded model's finder: OWLv2, then SAM


@dataclass(frozen=True)
class KnownModel:
    """A short model name: where its weights are and what it recommends."""

    source: str  # hub id or local folder
    settings: dict[str, float | int]
    how_to_fetch: str
    parts: dict[str, str] = field(default_factory=dict)  # a grounded model's finder (hub ids)


KNOWN_MODELS = {
    "ip2p": KnownModel(
        "timbrooks/instruct-pix2pix",
        IP2P_SETTINGS,
        "download it once with `hf download timbrooks/instruct-pix2pix` where the Hub is reachable",
    ),
    "magicbrush": KnownModel(
        "vinesmsuic/magicbrush-jul7",
        IP2P_SETTINGS,
        "download it once with `hf download vinesmsuic/magicbrush-jul7` where the Hub is reachable",
    ),
    "kontext": KnownModel(
        "black-forest-labs/FLUX.1-Kontext-dev",
        {},
        "accept its licence on the Hub, then download it once with "
        "`hf download black-forest-labs/FLUX.1-Kontext-dev` where the Hub is reachable",
    ),
    "qwen-edit": KnownModel(
        "Qwen/Qwen-Image-Edit-2509",
        {},
        "download it once with `hf download Qwen/Qwen-Image-Edit-2509` where the Hub is reachable",
    ),
    "sam-inpaint": KnownModel(
        "stable-diffusion-v1-5/stable-diffusion-inpainting",
        {},
        "download its three parts once where the Hub is reachable: `hf download "
        "stable-diffusion-v1-5/stable-diffusion-inpainting`, `hf download "
        "google/owlv2-base-patch16-ensemble` and `hf download facebook/sam-vit-base`",
        {"detector": "google/owlv2-base-patch16-ensemble", "segmenter": "facebook/sam-vit-base"},
    ),
    "demo": KnownModel(
        str(DEMO_MODEL_DIR),
        {},  # the demo folder's pixchat.json says it all
        "reinstall pixchat, or train it with `python -m editor.demo.train --out runs/demo` "
        "and copy runs/demo/model/ to editor/demo/model/",
    ),
    "demo-photo": KnownModel(
        str(DEMO_PHOTO_MODEL_DIR),
        {},
        "reinstall pixchat, or train it with `python -m editor.demo.train --world photos "
        "--out runs/photo` and copy runs/photo/model/ to editor/demo/photo_model/",
    ),
}
EMBEDDED_MODELS = ("demo", "demo-photo")


@dataclass(frozen=True)
class ModelSource:
    """A located model: what to hand to `from_pretrained`, and what the model recommends."""

    model_id: str  # what a result records: a short name, a hub id or a folder
    path: str  # a local folder or a hub id
    revision: str | None  # the hub commit, None for a local folder
    settings: dict[str, float | int]  # registry settings overridden by pixchat.json
    pipeline: str = PIX2PIX  # the diffusers pipeline class that runs it (see PIPELINES)
    parts: dict[str, str] = field(default_factory=dict)  # detector and segmenter, if grounded


def locate_model(name_or_path: str) -> ModelSource:
    """Find a model by short name, local folder or hub id; raise `ModelNotFound` otherwise."""
    known = KNOWN_MODELS.get(name_or_path)
    source = known.source if known else name_or_path
    settings = known.settings if known else {}
    if known:
        named = f"'{name_or_path}' ({source})"
        how_to_fetch = known.how_to_fetch
    else:
        named = f"'{name_or_path}'"
        how_to_fetch = (
            f"check the name (known: {', '.join(KNOWN_MODELS)}), pass a local folder in diffusers "
            f"format, or download it once with `hf download {source}` where the Hub is reachable"
        )

    folder = Path(source).expanduser().resolve()
    if folder.is_dir():
        pipeline, components = read_index(folder)
        missing = [f"{name}/" for name in components if not (folder / name).is_dir()]
        if missing:
            raise ModelNotFound(f"Model {named} is missing {', '.join(missing)}; {how_to_fetch}.")
        model_id = name_or_path if known else str(folder)
        parts = {part: str(folder / part) for part in GROUNDING_PARTS if (folder / part).is_dir()}
        return ModelSource(model_id, str(folder), None, {**settings, **read_settings(folder)},
                           pipeline, parts)
    if looks_like_a_folder(source):
        raise ModelNotFound(
            f"Model '{name_or_path}' is missing: there is no folder {folder}; {how_to_fetch}."
        )

    try:
        files = ["model_index.json", SETTINGS_FILE]  # the weights load later, per component
        snapshot = Path(snapshot_download(source, allow_patterns=files))
    except (OSError, ValueError):  # offline and not cached, unknown repo, or not a valid id
        raise ModelNotFound(
            f"Model {named} is neither a local folder nor in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}), and the Hub could not provide it; {how_to_fetch}."
        ) from None
    pipeline, _ = read_index(snapshot)
    return ModelSource(source, source, snapshot.name, {**settings, **read_settings(snapshot)},
                       pipeline, known.parts if known else {})


def read_index(folder: Path) -> tuple[str, list[str]]:
    """The pipeline class a model folder names in its model_index.json, and the component
    folders it needs; InstructPix2Pix's when it has no index. An unknown pipeline is refused."""
    path = folder / INDEX_FILE
    if not path.is_file():
        return PIX2PIX, list(COMPONENTS)
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EditorError(f"{path} is not readable JSON ({error}); fetch the model again.") \
            from None
    pipeline = index.get("_class_name", PIX2PIX)
    if pipeline not in PIPELINES:
        raise EditorError(f"{folder} holds a {pipeline}, which pixchat cannot edit with; "
                          f"use one of: {', '.join(PIPELINES)}.")
    components = [name for name, value in index.items()
                  if not name.startswith("_") and isinstance(value, list) and value[0]]
    return pipeline, components


def looks_like_a_folder(name: str) -> bool:
    """Hub ids are `name` or `owner/name`; anything else can only mean a local folder."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def read_settings(folder: Path) -> dict[str, float | int]:
    """The recommended settings in `folder/pixchat.json`, or {} when it has none."""
    settings = _settings_file(folder)
    known_keys = {field.name for field in fields(ModelDefaults)} - {"image_guidance"}
    settings = {key: value for key, value in settings.items() if key in known_keys}
    if settings.get("scheduler", DEFAULT_SCHEDULER) not in SCHEDULERS:
        raise EditorError(f"{folder / SETTINGS_FILE} names an unknown scheduler "
                          f"'{settings['scheduler']}'; use one of: {', '.join(SCHEDULERS)}.")
    return settings


def read_repertoire(folder: str | Path) -> dict | None:
    """What a model folder says it can do (`repertoire` in its pixchat.json): {"kinds": {kind:
    [phrasings]}, "words": [...]}; None when it says nothing (a real checkpoint: anything)."""
    return _settings_file(Path(folder)).get("repertoire")


def _settings_file(folder: Path) -> dict:
    """The whole of `folder/pixchat.json`, or {} when there is none."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EditorError(f"{path} is not readable JSON ({error}); fix or delete it.") from None


def model_defaults(name_or_path: str) -> ModelDefaults:
    """A model's recommended settings, read from its files without loading any weights."""
    source = locate_model(name_or_path)
    if source.pipeline != PIX2PIX:
        return recommended_defaults(source)
    return recommended_defaults(source, configured_size(Path(source.path)))


def configured_size(folder: Path) -> int:
    """The image size a local model works at, from its UNet and VAE configs (else 512)."""
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text())
        vae = json.loads((folder / "vae" / "config.json").read_text())
    except (OSError, ValueError):
        return IP2P_SETTINGS["size"]
    return unet["sample_size"] * vae_scale_factor(vae)


def vae_levels(vae_config) -> tuple[int, ...]:
    """The channels of a VAE's levels, from its config; an AutoencoderTiny's file may name
    only its decoder's."""
    return tuple(vae_config.get("block_out_channels")
                 or vae_config["decoder_block_out_channels"])


def vae_scale_factor(vae_config) -> int:
    """How many pixels one latent covers per side, from a VAE's config: 8 for Stable
    Diffusion's AutoencoderKL."""
    return 2 ** (len(vae_levels(vae_config)) - 1)


def recommended_defaults(source: ModelSource, native_size: int | None = None) -> ModelDefaults:
    """The model's settings, with its pipeline's (and for InstructPix2Pix its native size)
    for any it lacks."""
    size = {} if native_size is None else {"size": native_size}
    return ModelDefaults(**{**PIPELINES[source.pipeline], **size, **source.settings})
