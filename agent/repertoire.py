"""Honest replies: what the editor model says it can do, and a refusal, before any edit is
spent, for an instruction outside that.

A model folder may declare its repertoire in its pixchat.json (the embedded models do:
`editor.models.read_repertoire`): a one-line summary, its edit kinds with their phrasings,
and every word its text encoder learned. An instruction with a word outside those words
asks for something the model never saw, so the turn says so instead of editing. A model
that declares nothing (a real checkpoint) is trusted with anything.
"""

from __future__ import annotations

import re

from PIL import Image

from .command import Command
from .rules import intensity_of, phrase_key, starting_point

# Words that carry no request of their own; an instruction may hold them whatever the model.
# Intensity words among them: the interpreter turns those into s_T.
NEUTRAL_WORDS = {"please", "the", "a", "an", "it", "this", "image", "picture", "photo", "bit",
                 "little", "slightly", "much", "lot", "more", "less", "and", "make"}
GENERAL_EXAMPLE = "make it a snowy winter scene"  # for models that can do anything
REAL_CHECKPOINT = ("for that, run a real checkpoint with `--model ip2p` (`pixchat say SESSION "
                   "'...' --model ip2p`, or `streamlit run streamlit_app.py -- --model ip2p`)")


def repertoire_of(editor, image: Image.Image) -> dict | None:
    """The repertoire of the model that would edit `image` (None: it declares none)."""
    repertoire_for = getattr(editor, "repertoire_for", None)  # editors without one: anything
    return repertoire_for(image) if repertoire_for else None


def unknown_words(instruction: str, repertoire: dict) -> list[str]:
    """The instruction's words that the model never learned, in order, each once."""
    known = set(repertoire["words"]) | NEUTRAL_WORDS
    words = re.findall(r"[a-z]+", instruction.lower())
    return list(dict.fromkeys(word for word in words if word not in known))


def examples(repertoire: dict, count: int = 3) -> list[str]:
    """A few instructions the model knows, one per kind, for placeholders and help."""
    phrasings = [phrasings[0] for phrasings in repertoire["kinds"].values()]
    return [" ".join(p.format(before="", after="", colour="blue", shape="circle").split())
            for p in phrasings[:count]]


def example_instruction(editor, image: Image.Image) -> str:
    """What to suggest for `image` (e.g. in the chat box): an instruction its model knows."""
    repertoire = repertoire_of(editor, image)
    return examples(repertoire)[0] if repertoire else GENERAL_EXAMPLE


def can_do(repertoire: dict) -> str:
    """One sentence on what the model can do."""
    return f"This model {repertoire['summary']} (e.g. '{examples(repertoire)[0]}')."


def within_repertoire(command: Command, repertoire: dict | None) -> Command:
    """`command` as the model's repertoire allows: unchanged when the model can carry it out
    (or declares nothing); a help reply that also says what the model can do; and for an
    edit outside the repertoire, a reply-only command whose one sentence says what the model
    never learned, what it can do, and how to run a real checkpoint."""
    if repertoire is None:
        return command
    if command.action == "help":
        return command.model_copy(
            update={"rationale": f"{command.rationale} {can_do(repertoire)}".strip()})
    if command.action not in ("edit", "options"):
        return command
    unknown = unknown_words(command.instruction, repertoire)
    if not unknown:
        return at_recommended_scales(command, repertoire) if command.action == "edit" \
            else command
    rationale = (f"No edit made: the embedded model never learned "
                 f"'{' '.join(unknown)}'; it {repertoire['summary']}, "
                 f"e.g. '{examples(repertoire)[0]}'; {REAL_CHECKPOINT}.")
    return Command(action="help", rationale=rationale)


def at_recommended_scales(command: Command, repertoire: dict) -> Command:
    """A new edit in the model's repertoire, at the scales the model's quality bar was
    measured at (None: the model's defaults). The interpreter's rules set s_I by the kind of
    edit and s_T by intensity words, for real checkpoints; an embedded model learned its
    kinds, and the intensity words in its repertoire, at its recommended scales, and moved
    away from them it misses the truth by more. Only an intensity word it never learned
    ("much" for the shapes model) keeps the interpreter's s_T: that is its one way in."""
    intensity = intensity_of(phrase_key(command.instruction))
    if intensity and not set(intensity[0].split()) <= set(repertoire["words"]):
        scales = {"image_scale": None}
        why = (f"this model never learned '{intensity[0]}', so s_T carries it; s_I is the "
               "recommended one")
    else:
        scales = {"text_scale": None, "image_scale": None}
        why = "this model learned every word of this, so it edits at its recommended scales"
    rationale = starting_point(command) + why + "."
    return command.model_copy(update={**scales, "rationale": rationale[0].upper() + rationale[1:]})
