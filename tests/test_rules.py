"""The rule interpreter: every table row, tried with the phrasings people use."""

from dataclasses import dataclass

import pytest

from agent.command import Command, ScaleLimits, Turn
from agent.rules import (
    EDIT_KINDS,
    HELP_TEXT,
    INTENSITY_WORDS,
    MAX_MESSAGE_CHARS,
    REFINEMENTS,
    RuleInterpreter,
    clean_politeness,
)
from editor.demo import world


@dataclass(frozen=True)
class Defaults:  # the shape of editor.ModelDefaults that the interpreter reads
    text_scale: float = 7.5
    image_scale: float = 1.5
    image_guidance: bool = True


RULES = RuleInterpreter(Defaults())
WINTER = RULES.interpret("make it a snowy winter scene")
AFTER_WINTER = [Turn("make it a snowy winter scene", WINTER)]


# --- politeness ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "instruction"),
    [
        ("could you please make it winter?", "make it winter"),
        ("Please add a hat.", "add a hat"),
        ("can you make the sky purple please", "make the sky purple"),
        ("Hey, could you remove the car? Thanks!", "remove the car"),
        (
            "I'd like you to turn it into a watercolor painting",
            "turn it into a watercolor painting",
        ),
        ("i want to make it look like night, thank you very much", "make it look like night"),
        ("would you please make the circle blue for me?", "make the circle blue"),
        ("ok now add snow on the roof!!", "add snow on the roof"),
        ("  make   it    sunny   ", "make it sunny"),
        ("add a sign saying 'hello'", "add a sign saying 'hello'"),
        ("make it winter ❄️🙂", "make it winter"),
    ],
)
def test_politeness_is_removed_from_the_instruction(text, instruction):
    assert clean_politeness(text) == instruction
    command = RULES.interpret(text)
    assert (command.action, command.instruction) == ("edit", instruction)


def test_the_instruction_keeps_the_persons_capitals():
    assert RULES.interpret("Please put a Union Jack on the Flag").instruction == (
        "put a Union Jack on the Flag"
    )


# --- messages that cannot be read ------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "🙂🙂🙂", "?!...", "please"])
def test_a_message_with_nothing_to_act_on_gets_a_help_reply(text):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert command.action == "help"
    assert "nothing to act on" in command.rationale


def test_a_very_long_message_is_refused_with_its_length():
    command = RULES.interpret("add a hat " * 2_000)
    assert command.action == "help"
    assert "20,000 characters" in command.rationale
    assert f"{MAX_MESSAGE_CHARS:,}" in command.rationale


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("'", "help"),
        ("___", "help"),
        ("go back to step 2 then 🙂", "revert"),
        ("back to the original and please", "reset"),
        ("step 99999999999999999999", "revert"),
    ],
)
def test_odd_messages_still_give_a_valid_command(text, action):
    assert RULES.interpret(text, None, AFTER_WINTER).action == action


# --- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["help", "Help!", "what can you do?", "How does this work", "commands", "what can I say"],
)
def test_help(text):
    command = RULES.interpret(text)
    assert (command.action, command.rationale) == ("help", HELP_TEXT)


# --- navigation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("undo", "undo"),
        ("Undo that, please!", "undo"),
        ("undo the last edit", "undo"),
        ("go back", "undo"),
        ("back", "undo"),
        ("take that back", "undo"),
        ("revert that", "undo"),
        ("I liked it better before", "undo"),
        ("ctrl+z", "undo"),
        ("redo", "redo"),
        ("redo that please", "redo"),
        ("go forward", "redo"),
        ("put it back", "redo"),
        ("undo the undo", "redo"),
        ("reset", "reset"),
        ("start over", "reset"),
        ("back to the original", "reset"),
        ("Go back to the original image", "reset"),
        ("restore the original", "reset"),
        ("show me the original", "reset"),
    ],
)
def test_undo_redo_and_reset(text, action):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert command.action == action
    assert command.instruction == "" and command.target is None


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("go back to step 3", 3),
        ("Revert to step 12.", 12),
        ("back to version two", 2),
        ("jump to step 0", 0),
        ("go back to the second edit", 2),
        ("return to the first one", 1),
        ("step 4", 4),
    ],
)
def test_revert_to_a_numbered_step(text, step):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert (command.action, command.target) == ("revert", step)
    assert f"step {step}" in command.rationale


@pytest.mark.parametrize(
    ("text", "step", "instruction"),
    [
        ("go back to the original and add a hat", 0, "add a hat"),
        ("Back to step 2, then make the circle blue", 2, "make the circle blue"),
        ("start from the original and please make it night", 0, "make it night"),
    ],
)
def test_going_back_and_editing_in_one_message_edits_from_that_step(text, step, instruction):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert (command.action, command.target, command.instruction) == ("edit", step, instruction)


# --- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["show me options", "Give me some options!", "show me a few variations", "options"]
)
def test_options_show_the_last_instruction_as_a_grid(text):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert (command.action, command.instruction) == ("options", WINTER.instruction)
    assert (command.text_scale, command.image_scale) == (WINTER.text_scale, WINTER.image_scale)


def test_options_for_a_named_edit_use_that_edit():
    command = RULES.interpret("show me options for adding a hat")
    assert (command.action, command.instruction) == ("options", "adding a hat")


# --- again ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["again", "try again", "Another one!", "one more", "once more", "reroll", "new seed"]
)
def test_again_repeats_the_last_edit_with_the_same_scales(text):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert command.action == "again"
    assert command.model_dump(include={"instruction", "text_scale", "image_scale", "scope"}) == (
        WINTER.model_dump(include={"instruction", "text_scale", "image_scale", "scope"})
    )
    assert "new seed" in command.rationale


# --- refinements ----------------------------------------------------------------------------

REFINEMENT_PHRASES = [
    ("stronger", "stronger"),
    ("more", "stronger"),
    ("Make it stronger!", "stronger"),
    ("even more", "stronger"),
    ("more snow", "stronger"),
    ("not enough", "stronger"),
    ("push it further", "stronger"),
    ("a bit more", "a bit stronger"),
    ("slightly stronger", "a bit stronger"),
    ("less", "weaker"),
    ("too much", "weaker"),
    ("way too strong", "weaker"),
    ("subtler", "weaker"),
    ("more subtle please", "weaker"),
    ("tone it down", "weaker"),
    ("less snow", "weaker"),
    ("a bit less", "a bit weaker"),
    ("a little less", "a bit weaker"),
    ("keep more of the original", "closer to the original"),
    ("closer to the original", "closer to the original"),
    ("it changed too much", "closer to the original"),
    ("less like the original", "further from the original"),
    ("more different", "further from the original"),
]


@pytest.mark.parametrize(("text", "name"), REFINEMENT_PHRASES)
def test_refinements_rerun_the_last_instruction_with_adjusted_scales(text, name):
    refinement = next(refinement for refinement in REFINEMENTS if refinement.name == name)
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert (command.action, command.instruction) == ("refine", WINTER.instruction)
    # Scales are rounded to two decimals, as people write them.
    assert command.text_scale == round(WINTER.text_scale * refinement.text_factor, 2)
    assert command.image_scale == round(WINTER.image_scale + refinement.image_step, 2)
    assert name in command.rationale


def test_every_refinement_row_is_tried():
    assert {name for _, name in REFINEMENT_PHRASES} == {r.name for r in REFINEMENTS}


def test_refinements_compound_on_the_last_refinement():
    first = RULES.interpret("stronger", None, AFTER_WINTER)
    second = RULES.interpret("stronger", None, [*AFTER_WINTER, Turn("stronger", first)])
    assert second.text_scale == round(round(WINTER.text_scale * 1.3, 2) * 1.3, 2)
    assert f"s_T {first.text_scale:g} → {second.text_scale:g}" in second.rationale


def test_refinements_stop_at_the_safe_limit_and_say_so():
    strongest = Command(action="edit", instruction="make it winter", text_scale=15.0)
    command = RULES.interpret("stronger", None, [Turn("make it winter", strongest)])
    assert command.text_scale == 15.0
    assert "already at their limits" in command.rationale


def test_a_refinement_keeps_the_scope_of_the_edit_it_refines():
    hat = RULES.interpret("add a hat")
    assert RULES.interpret("less", None, [Turn("add a hat", hat)]).scope == "local"


def test_navigation_turns_do_not_hide_the_edit_to_refine():
    history = [
        *AFTER_WINTER,
        Turn("undo", Command(action="undo")),
        Turn("redo", Command(action="redo")),
    ]
    assert RULES.interpret("more", None, history).instruction == WINTER.instruction


@pytest.mark.parametrize("text", ["stronger", "a bit less", "again", "show me options"])
def test_refining_or_repeating_before_any_edit_explains_what_to_do(text):
    command = RULES.interpret(text)
    assert command.action == "help"
    assert "say what to change first" in command.rationale


# --- edits: kind → s_I and scope, intensity → s_T ----------------------------------------------

EDIT_PHRASES = [
    ("make it a snowy winter scene", "a global restyle"),
    ("make it autumn", "a global restyle"),
    ("make it look like a rainy day", "a global restyle"),
    ("turn it into a Van Gogh painting", "a global restyle"),
    ("make it night time", "a global restyle"),
    ("make it a watercolor", "a global restyle"),
    ("give it a cyberpunk style", "a global restyle"),
    ("give the dog a red collar", "a local edit"),
    ("make it foggy", "a global restyle"),
    ("make it sunset", "a global restyle"),
    ("add a hat", "a local edit"),
    ("remove the car", "a local edit"),
    ("replace the cat with a dog", "a local edit"),
    ("make the circle blue", "a local edit"),
    ("make the background green", "a background change"),
    ("turn the backdrop white", "a background change"),
    ("put a boat on the lake", "a local edit"),
    ("get rid of the trees", "a local edit"),
    ("change the sky to pink", "a background change"),
    ("add a bird to the sky", "a local edit"),
    ("make her smile", "an edit of a face or person"),
    ("give the man a beard", "an edit of a face or person"),
    ("make the woman's hair red", "an edit of a face or person"),
    ("make his eyes green", "an edit of a face or person"),
    ("turn the person into a statue", "an edit of a face or person"),
    ("make the picture bigger", "an edit"),
    ("add fog", "a change of the weather"),
    ("add some rain", "a change of the weather"),
    ("make the circle bigger", "a local edit"),
]


@pytest.mark.parametrize(("text", "kind_name"), EDIT_PHRASES)
def test_the_kind_of_edit_sets_image_scale_and_scope(text, kind_name):
    kind = next((kind for kind in EDIT_KINDS if kind.name == kind_name), None)
    command = RULES.interpret(text)
    assert command.action == "edit"
    expected_scope, step = (kind.scope, kind.image_step) if kind else ("global", 0.0)
    assert command.scope == expected_scope
    assert command.image_scale == pytest.approx(1.5 + step)
    assert command.text_scale == 7.5
    assert command.rationale.lower().startswith(kind_name)


def test_every_edit_kind_is_tried():
    assert {kind.name for kind in EDIT_KINDS} <= {name for _, name in EDIT_PHRASES}


def test_global_restyles_keep_less_of_the_image_than_local_and_face_edits():
    restyle, local, face = (
        RULES.interpret(t) for t in ("make it winter", "add a hat", "make her smile")
    )
    assert restyle.image_scale < 1.5 < local.image_scale < face.image_scale


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("make it slightly warmer", "slightly"),
        ("add a little snow", "a little"),
        ("make it a bit darker", "a bit"),
        ("make the sky very blue", "very"),
        ("make it really foggy", "really"),
        ("dramatically change the lighting", "dramatically"),
        ("make it completely black and white", "completely"),
    ],
)
def test_intensity_words_move_text_scale(text, word):
    factor = next(f for words, f in INTENSITY_WORDS if word in words.split("|"))
    command = RULES.interpret(text)
    assert command.text_scale == pytest.approx(7.5 * factor)
    assert f"'{word}'" in command.rationale


def test_suggestions_follow_the_models_recommended_scales():
    other_model = RuleInterpreter(Defaults(text_scale=4.0, image_scale=1.2))
    assert other_model.interpret("add a hat").model_dump(include={"text_scale", "image_scale"}) == {
        "text_scale": 4.0,
        "image_scale": pytest.approx(1.7),
    }
    assert other_model.interpret("make it very snowy").text_scale == pytest.approx(5.2)


def test_suggestions_stay_inside_configured_limits():
    tight = RuleInterpreter(Defaults(), ScaleLimits(text_scale=(1.0, 9.0), image_scale=(1.0, 1.8)))
    command = tight.interpret("make her dramatically older")
    assert (command.text_scale, command.image_scale) == (9.0, 1.8)


def test_the_same_text_and_history_always_give_the_same_command():
    assert RULES.interpret("could you add a hat?", None, AFTER_WINTER) == RuleInterpreter(
        Defaults()
    ).interpret("could you add a hat?", None, AFTER_WINTER)


# --- what a person says around a request -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("nope, go back", "undo"),
        ("no, undo that", "undo"),
        ("actually, bring that back", "redo"),
        ("oops, undo", "undo"),
        ("udno", "undo"),
        ("rdeo", "redo"),
        ("agian", "again"),
        ("optoins", "options"),
        ("let me choose", "options"),
        ("tone it down a bit", "refine"),
        ("undo everything", "reset"),
    ],
)
def test_navigation_and_adjustments_are_understood_around_no_actually_and_typos(text, action):
    assert RULES.interpret(text, None, AFTER_WINTER).action == action


def test_tone_it_down_a_bit_is_a_milder_refinement_of_the_last_edit():
    bit = RULES.interpret("tone it down a bit", None, AFTER_WINTER)
    full = RULES.interpret("tone it down", None, AFTER_WINTER)
    assert bit.instruction == full.instruction == WINTER.instruction
    assert WINTER.text_scale > bit.text_scale > full.text_scale


@pytest.mark.parametrize("text", ["no", "hmm", "make it better", "change it", "no, the other one"])
def test_a_message_that_names_no_clear_change_is_asked_back_with_choices(text):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert command.action == "clarify"
    assert command.rationale.endswith("?") or "?" in command.rationale
    assert "undo" in command.choices


@pytest.mark.parametrize("text", ["no", "make it better"])
def test_before_any_edit_a_vague_message_gets_the_help_text(text):
    assert RULES.interpret(text) == Command(action="help", rationale=HELP_TEXT)


@pytest.mark.parametrize(
    ("text", "instruction"),
    [("undo that and make it blue", "make it blue"), ("scratch that, add a moon", "add a moon")],
)
def test_undo_and_edit_in_one_message_edits_the_image_before(text, instruction):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert (command.action, command.instruction, command.undo_first) == ("edit", instruction, True)
    assert "before this one" in command.rationale


@pytest.mark.parametrize(
    ("text", "words"),
    [("thanks!", "Glad"), ("what is s_T?", "how big a change"), ("is this saved?", "undo")],
)
def test_thanks_and_questions_get_a_reply_and_no_edit(text, words):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert command.action == "help" and words in command.rationale


@pytest.mark.parametrize(
    ("text", "action", "refinement"),
    [
        ("go even further", "refine", "stronger"),
        ("a tiny bit less", "refine", "a bit weaker"),
        ("calm it down", "refine", "weaker"),
        ("back to the very beginning", "reset", None),
        ("start again from the original", "reset", None),
        ("undo my last edit", "undo", None),
        ("try once more", "again", None),
        ("could I see a few variations?", "options", None),
        ("that was better before, undo", "undo", None),
    ],
)
def test_short_messages_of_one_intents_words_mean_that_intent(text, action, refinement):
    command = RULES.interpret(text, None, AFTER_WINTER)
    assert command.action == action
    if refinement:
        assert f"{refinement}:" in command.rationale


@pytest.mark.parametrize("text", ["make it more blue and less red", "add more trees",
                                  "make the sky a bit less cloudy", "the other one"])
def test_messages_with_other_words_are_not_taken_for_adjustments(text):
    assert RULES.interpret(text, None, AFTER_WINTER).action in ("edit", "clarify")


WORLD_SCOPES = {"recolour": "local", "remove": "local", "move": "local",
                "background": "background", "darken": "global", "brighten": "global"}


@pytest.mark.parametrize("kind", sorted(WORLD_SCOPES))
def test_every_phrasing_of_the_demo_world_gets_the_scope_its_edit_needs(kind):
    # A local or background edit read as a restyle would repaint what it should keep.
    for phrasing in world.PHRASINGS[kind]:
        text = phrasing.format(shape="circle", colour="blue", direction="left")
        command = RULES.interpret(text)
        assert (command.action, command.scope) == ("edit", WORLD_SCOPES[kind]), text
