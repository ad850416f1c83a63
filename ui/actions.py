"""What the app's uploads, buttons and history rows mean, kept apart from Streamlit.

The turns themselves are the agent's (`agent.turn.run_turn`); this module only builds the
`Command` each button asks for, draws sample scenes, and describes history steps.
"""

from __future__ import annotations

import numpy as np

from agent.command import Command
from agent.turn import option_label
from editor.demo.photos import sample_photo as photo_of_a_cat
from editor.demo.world import random_scene, render_image
from editor.images import to_png_bytes
from memory import NodeInfo

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]


def sample_scene(seed: int | None = None) -> tuple[str, bytes]:
    """A random scene of the demo model's world as PNG bytes, with a title naming its shapes."""
    scene = random_scene(np.random.default_rng(seed))
    shapes = ", ".join(f"{shape.colour} {shape.kind}" for shape in scene.shapes)
    return f"Sample: {shapes} on {scene.background}", to_png_bytes(render_image(scene))


def sample_photo() -> tuple[str, bytes]:
    """A photograph for the embedded photo model, as PNG bytes, with its title."""
    return "Sample photo: a cat", to_png_bytes(photo_of_a_cat())


# --- the commands behind the buttons --------------------------------------------------


def apply_command(head: NodeInfo, text_scale: float, image_scale: float | None) -> Command:
    """Re-run the head's instruction from the head's parent with the sliders' scales."""
    return Command.clamped(
        action="refine", instruction=head.params.instruction, text_scale=text_scale,
        image_scale=image_scale, scope=head.params.metrics.get("scope", "global"),
        rationale=f"Re-running '{head.params.instruction}' with the sliders' scales.",
    )


def options_command(head: NodeInfo, text_scale: float, image_scale: float | None) -> Command:
    """The s_T × s_I grid of the head's instruction, centred on the sliders' scales."""
    return Command.clamped(
        action="options", instruction=head.params.instruction, text_scale=text_scale,
        image_scale=image_scale, scope=head.params.metrics.get("scope", "global"),
        rationale=f"Showing '{head.params.instruction}' at several scales to pick from.",
    )


# --- the history tree -----------------------------------------------------------------


def describe(node: NodeInfo) -> str:
    """One line for a node: its instruction and scales, or "the original"."""
    params = node.params
    if node.parent_id is None:
        return f"the original, {node.width}×{node.height}"
    scales = option_label(params.text_scale, params.image_scale) \
        if params.text_scale is not None else ""
    return f"'{params.instruction or params.chat_text}' {scales}".strip()
