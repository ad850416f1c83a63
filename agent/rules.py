"""The rule interpreter: a chat turn becomes a `Command` through phrase tables, without a model.

It is the deterministic default and the fallback of the VLM interpreter. Every table below is
data: add a phrase, a word or a row and the interpreter knows it. A message is checked in this
order, first match wins:

    small talk → empty or too long → help → navigation → options → again → refinement
    ("again but stronger" too) → a short message of one intent's words → one clause of
    several ("that was better before, undo") → "go back to step 2 and ..." / "undo and ..."
    → a question → help → vague, or only "no" → clarify → mentions undo or back → clarify
    → edit

Phrases are regular expressions matched against the whole message after politeness and
leading words like "no," or "actually" are removed, lower-cased and stripped of punctuation
("No, undo that, please!" → "undo that"). A short message is matched a second time with
misspelt command words corrected ("udno" → "undo"). Edit kinds and intensity words are
searched anywhere in the message. Suggested scales are relative to the editor model's
recommended defaults, so they suit any model; for a model without image guidance (FLUX.1
Kontext, Qwen-Image-Edit) commands carry no s_I, and "keep more of the original" lowers s_T.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches

from PIL import Image

from .command import (
    DEFAULT_LIMITS,
    Action,
    Command,
    ScaleDefaults,
    ScaleLimits,
    Scope,
    Turn,
    navigation,
)
from .numbers import scale_text

MAX_MESSAGE_CHARS = 2_000

SCALES_TEXT = (
    "s_T (how big a change) is how strongly the instruction is followed; s_I (how close to the "
    "original) is how much of the image before the edit is kept. Say 'stronger', 'a bit less' "
    "or 'keep more of the original' to move them."
)
THANKS_TEXT = "Glad you like it. Say what to change next, or 'undo' to go back."
CLARIFY_CHOICES = ("undo", "again", "show me options")  # the answers a question offers
CLARIFY_TEXT = (
    "I am not sure what to change. Undo the last edit, try it again, or see options? "
    "Or say the change itself, e.g. 'make the circle blue'."
)
HELP_TEXT = (
    "Say what to change ('make it a snowy winter scene', 'add a hat'), then adjust with "
    "'stronger', 'a bit less', 'keep more of the original' or 'again', and move around with "
    "'undo', 'redo', 'go back to step 2', 'back to the original' or 'show me options'."
)

# --- politeness: removed from the start and end of a message, repeatedly -------------------

POLITE_OPENINGS = (
    r"(?:hey|hi|hello|ok|okay|now|alright)(?: there)?",
    r"(?:could|can|would|will) you(?: please| kindly| maybe)?",
    r"please|pls|plz",
    r"kindly",
    r"i(?:'d| would) (?:like|love) (?:you )?to",
    r"i want (?:you )?to",
    r"i need (?:you )?to",
    r"let's",
    r"go ahead and",
    r"try to",
)
POLITE_CLOSINGS = (
    r"please|pls|plz",
    r"thanks|thx|ty|cheers",
    r"thank you(?: very much| so much)?",
    r"for me",
    r"if you can",
    r"if possible",
    r"if you don't mind",
    r"and|then|and then",  # a message cut short: "go back to step 2 then"
)

DISCOURSE = (  # removed from the start before the phrase tables are matched: "no, undo that"
    r"no|nope|nah|oops|actually|hmm+|oh|wait|well|ok|okay|so|sorry|ugh|yes|yeah|hey",
    r"(?:that's|that is|it's|it is) (?:worse|wrong|bad|not it)",
    r"i liked it",
)

# --- navigation, options, again, help: (action, phrase) ------------------------------------

NUMBER_WORDS = {
    "one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4,
    "fourth": 4, "five": 5, "fifth": 5, "six": 6, "sixth": 6, "seven": 7, "seventh": 7,
    "eight": 8, "eighth": 8, "nine": 9, "ninth": 9, "ten": 10, "tenth": 10,
}  # fmt: skip
_NUMBER = r"(?P<step>\d+|" + "|".join(NUMBER_WORDS) + ")"
_TO = r"(?:go back to|back to|take me back to|revert to|return to|jump to|roll back to|go to)"

NAVIGATION: tuple[tuple[Action, str], ...] = (
    ("reset", r"reset(?: everything| all)?|(?:let's )?start over|(?:start )?from scratch|original"
              r"|(?:show me )?the original|undo (?:everything|all(?: of it)?)"),
    ("reset", _TO + r" (?:the )?(?:original|start|beginning)(?: image| photo| picture)?"),
    ("reset", r"(?:restore|use|bring back) (?:the )?original(?: image| photo| picture)?"),
    ("revert", _TO + r" (?:step|version|edit|turn|image) " + _NUMBER),
    ("revert", _TO + r" (?:the )?" + _NUMBER + r" (?:step|version|edit|one)"),
    ("revert", r"(?:show (?:me )?)?(?:step|version) " + _NUMBER),
    ("undo", r"undo(?: that| it| this| last| the last (?:edit|change|step))?|ctrl z"),
    ("undo", r"(?:go |step )?back(?: one step| a step)?|take (?:that|it) back|previous(?: one)?"),
    ("undo", r"revert(?: that| it| the last (?:edit|change))?|i liked it better before"),
    ("undo", r"(?:put|change|turn) it back(?: the way it was| to how it was)|change it back"
             r"|(?:go )?back to (?:how|the way) it was|don't do that|scratch that"
             r"|(?:go back to |return to |show me )?the previous (?:one|image|version|picture)"),
    ("redo", r"redo(?: that| it| the last (?:edit|change|step))?|ctrl y|undo the undo"),
    ("redo", r"(?:go |step )?forward(?: one step| a step)?(?: again)?|put (?:that|it) back"
             r"|next(?: one)?|bring (?:that|it) back|bring back the last (?:edit|change|one)"),
)
OPTIONS = (
    r"(?:show|give|let) me (?:see )?(?:some |a few |several |more |different )?(?:options|"
    r"variations|alternatives|choices|versions)(?: for (?P<instruction>.+))?",
    r"(?:some |a few |more )?(?:options|variations|alternatives)(?: for (?P<instruction>.+))?",
    r"(?:let me|can i) (?:choose|pick)|(?:show me )?a grid|what are my (?:options|choices)",
)
AGAIN = (
    r"(?:try |do it |do that )?again|(?:one more|another) (?:time|try|go)|once more",
    r"(?:give me )?another(?: one| version| variation)?|one more|re ?roll|(?:a )?new seed",
    r"(?:try )?(?:a )?different (?:one|version|seed)|same (?:thing )?again|another take",
    r"(?:try )?again with (?:a )?(?:different|new|another) seed",
)
AGAIN_BUT = re.compile(  # "try again but stronger": a refinement, and refinements draw anew
    r"(?:try (?:it )?again|again|do it again|one more time) (?:but |only |just )+(?P<rest>.+)"
)
HELP = (
    r"help(?: me)?|commands|usage|instructions|what can (?:you|i) (?:do|say)",
    r"how (?:does (?:this|it)|do i use (?:this|it|you)) work|how do i use (?:this|it|you)",
)
SMALL_TALK = (  # (phrase, reply): a message that asks for no change
    (r"(?:hi|hello|hey)(?: there)?|who are you", HELP_TEXT),
    (r"(?:great|nice|cool|perfect|awesome|wow|lol|beautiful|lovely|good job|well done|"
     r"(?:that's|that is|it) (?:great|perfect|nice|good|it)|(?:that )?looks (?:good|great)|"
     r"(?:good|great|nice) (?:job|work)|"
     r"i love it|love it|thanks|thx|ty|cheers|thank you)(?: a lot| so much| very much)?",
     THANKS_TEXT),
)
# A question about pixchat itself: the reply explains, nothing is edited.
QUESTION = re.compile(r"(?:what|what's|whats|how|why|who|where|which|explain)\b.*")
YES_NO_QUESTION = re.compile(r"(?:is|are|does|do|did|can|will)\b.*")  # when it ends in "?"
SCALE_WORDS = re.compile(r"\bs_?[ti]\b|slider|scale|guidance")
VAGUE = (  # names no clear change: ask back
    r"change (?:it|this|that)|make it (?:better|nicer|good|look better)|improve it|fix (?:it|this)",
    r"do something|(?:try )?something (?:else|different)|different|not (?:quite|like "
    r"that|that one|it)|(?:the )?other one|i don't like (?:it|this|that)|this is bad|meh",
    r"i meant .+|not the .+|(?:not|no) (?:quite )?(?:good|great|right|it|what i (?:meant|wanted))",
    r"(?:that's |it's |this is )?(?:bad|ugly|wrong|awful|terrible|worse)|e+h+|u+h+|m+e+h+",
)
# A short message made only of filler words and an intent's words means that intent:
# "go even further", "a tiny bit less", "back to the very beginning". The first intent in
# this order wins when several appear.
WORD_INTENTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("undo", frozenset({"undo", "previous", "revert"})),
    ("redo", frozenset({"redo", "forward"})),
    ("reset", frozenset({"original", "beginning", "reset", "scratch"})),
    ("options", frozenset({"options", "option", "variations", "alternatives", "choices",
                           "versions", "grid"})),
    ("again", frozenset({"again", "another", "reroll", "roll", "retry", "shuffle", "regenerate"})),
    ("weaker", frozenset({"less", "weaker", "softer", "subtler", "gentler", "down", "calm",
                          "milder", "reduce", "decrease"})),
    ("stronger", frozenset({"more", "stronger", "further", "intense", "intensify", "bolder",
                            "up", "amplify", "boost", "increase"})),
)
FILLER_WORDS = frozenset(
    "it that this the a an me my some few please just bit lot little tiny touch slightly much "
    "way even still go make push try do can you i want like i'd would be one time show give "
    "see let back to very from start image picture photo version effect and get could last "
    "change edit step i liked prefer preferred was better".split()
)
MILD_WORDS = frozenset({"bit", "little", "tiny", "touch", "slightly"})
# For a model without s_I, "closer to the original" (s_I + 0.3) becomes s_T × (1 - 0.3 × this).
NO_IMAGE_GUIDANCE_FACTOR = 0.7
INTENT_WORDS_LIMIT = 6
EDIT_VERBS = re.compile(  # a clause with one of these asks for an edit
    r"\b(?:make|turn|add|remove|put|change|replace|give|paint|colou?r|delete|erase|swap|insert)\b"
)
UNDO_WORDS = re.compile(r"\b(?:undo|redo|revert|go back|back to|previous)\b")

# --- refinements: re-run the last instruction with adjusted scales -------------------------


@dataclass(frozen=True)
class Refinement:
    """A way to adjust the last edit: s_T is multiplied by `text_factor`, `image_step` is added
    to s_I."""

    name: str  # how the reply describes it
    phrase: str
    text_factor: float = 1.0
    image_step: float = 0.0


_PHOTO = r"(?:original|photo|picture|image|my photo)(?: photo| picture| image)?"
REFINEMENTS = (
    Refinement(
        "closer to the original",
        r"(?:keep|preserve) (?:more of )?(?:the )?" + _PHOTO + r"(?: more)?|(?:keep it |stay |"
        r"make it )?closer to (?:the |my )?" + _PHOTO
        + r"|(?:it )?changed (?:way |far |much )?too much|don't change so much"
        r"|keep (?:the )?rest|too different from the " + _PHOTO + r"|it doesn't look like "
        r"(?:the |my )?" + _PHOTO + r"(?: anymore| any more)?",
        image_step=+0.3,
    ),
    Refinement(
        "further from the original",
        r"(?:change it )?more (?:different )?from the original|(?:make it )?less like the "
        r"original|(?:it's |it is )?too close to the " + _PHOTO + r"|(?:be )?more different"
        r"|(?:move|go) further (?:away )?from the original",
        image_step=-0.3,
    ),
    Refinement(
        "a bit weaker",
        r"a (?:bit|little|touch) (?:less|weaker|subtler|softer)|slightly (?:less|weaker)"
        r"|(?:tone|turn) it down (?:a bit|a little|a touch|slightly)",
        text_factor=0.85,
    ),
    Refinement(
        "weaker",
        r"(?:make it )?(?:less|weaker|subtler|softer|more subtle)|(?:(?:that's|that is|it's|it "
        r"is) )?(?:way |far |a bit |much )?too (?:much|strong|intense|extreme)"
        r"|(?:tone|turn) it down|dial it back|not so much|less of (?:that|it)|less \w+(?: \w+)?"
        r"|reduce (?:the|it|the effect)|don't make it so \w+|too much,? tone it down",
        text_factor=0.7,
    ),
    Refinement(
        "a bit stronger",
        r"a (?:bit|little|touch) (?:more|stronger)|slightly (?:more|stronger)"
        r"|(?:turn|crank) it up (?:a bit|a little|a touch|slightly)",
        text_factor=1.15,
    ),
    Refinement(
        "stronger",
        r"(?:make it |go )?(?:stronger|more|further)|(?:even|way|much|i want) more|more of "
        r"(?:that|it)|push it(?: further)?|not enough|exaggerate it|amplify it|more \w+(?: \w+)?"
        r"|(?:turn|crank|amp|dial) it up|(?:it's |it is )?too (?:subtle|weak|faint)"
        r"|(?:it's |it is )?not (?:\w+ )?enough"
        r"|increase (?:the|it|the effect)|make it more \w+",
        text_factor=1.3,
    ),
)

# --- edits: the kind of edit decides s_I and the scope; intensity words move s_T -----------


@dataclass(frozen=True)
class EditKind:
    """A kind of edit, recognised by `pattern` anywhere in the message."""

    name: str
    scope: Scope
    image_step: float  # added to the model's recommended s_I
    reason: str  # why that s_I, for the rationale
    pattern: str


COLOURS = (
    r"red|orange|yellow|green|blue|purple|violet|pink|brown|black|white|gr[ae]y|gold(?:en)?|"
    r"silver|cyan|magenta|teal|navy|beige|turquoise"
)
EDIT_KINDS = (
    EditKind(
        "an edit of a face or person",
        "local",
        +0.8,
        "protects the person's identity",
        r"\b(?:faces?|person|people|m[ae]n|wom[ae]n|boys?|girls?|child(?:ren)?|kids?|bab(?:y|ies)"
        r"|guy|lady|someone|somebody|he|she|him|her|his|hers|eyes?|hair|beard|moustache"
        r"|mustache|smile|skin|nose|mouth|lips|portrait|selfie)\b",
    ),
    EditKind(
        # Before "a local edit": a new background changes most pixels by design, which the
        # drift check would take for a local edit gone wrong.
        "a background change",
        "background",
        0.0,
        "changes the background and keeps what stands on it",
        r"^(?:make|turn|paint|colou?r|change|set) the (?:background|backdrop|sky)\b"
        r"|^(?:a |an )?(?:" + COLOURS + r") (?:background|backdrop|sky)$",
    ),
    EditKind(
        # Before "a local edit": fog or rain is added to the whole picture.
        "a change of the weather",
        "global",
        -0.3,
        "lets the whole picture change",
        r"^add (?:some |a bit of |a little )?(?:fog|mist|haze|rain|snowfall|a storm)$",
    ),
    EditKind(
        "a local edit",
        "local",
        +0.5,
        "protects the rest of the picture",
        r"^(?:add|put|place|insert|remove|delete|erase|get rid of|take (?:out|away)|replace|swap"
        r"|give (?:the|a|an))\b"
        r"|^(?:make|turn|paint|colou?r|recolou?r) the \w+(?: \w+)? (?:" + COLOURS + r")\b"
        r"|^the \w+(?: \w+)? should be (?:" + COLOURS + r")\b"
        r"|^(?:move|shift|push|nudge|drag) the \w+"
        r"|^change the \w+(?: \w+)? (?:to|into)\b"
        r"|^make the (?!picture|image|photo)\w+(?: \w+)? (?:a bit |a little |much )?"
        r"(?:bigger|smaller|larger|wider|taller|shorter|thinner|rounder)\b",
    ),
    EditKind(
        "a global restyle",
        "global",
        -0.3,
        "lets the whole picture change",
        r"\b(?:winter|summer|autumn|fall|spring|season|snowy|snow|rain|rainy|fog|foggy|mist|misty"
        r"|storm|stormy|sunny|cloudy|overcast|night|nighttime|sunset|sunrise|dawn|dusk|evening"
        r"|morning|golden hour|twilight|lighting|dark|darker|bright|brighter|neon|painting"
        r"|painted|watercolou?r|oil|sketch|drawing|cartoon|anime|comic|pixel art|pencil"
        r"|impressionist|cubist|van gogh|monet|picasso|style|cyberpunk|steampunk|vintage|retro"
        r"|sepia|black and white|noir|cinematic|3d render|claymation|mosaic|stained glass"
        r"|look like|looks like)\b|^(?:turn|make) it (?:into )?an? \w+",
    ),
)
ANY_EDIT = EditKind("an edit", "global", 0.0, "is the model's recommended value", pattern="")
"""The kind of an edit that no row of EDIT_KINDS matches."""

INTENSITY_WORDS: tuple[tuple[str, float], ...] = (  # (words, factor on the recommended s_T)
    (r"dramatically|completely|totally|extremely|drastically|radically|hugely|intensely", 1.6),
    (r"very|really|much|strongly|heavily|a lot", 1.3),
    (r"slightly|a little|a bit|a touch|subtly|gently|barely|somewhat|lightly|mildly", 0.7),
)

# --- the interpreter ------------------------------------------------------------------------


def _compile(phrases: Sequence[str]) -> list[re.Pattern[str]]:
    return [re.compile(phrase) for phrase in phrases]


_OPENING = re.compile(r"^(?:" + "|".join(POLITE_OPENINGS) + r")\b[\s,:]*", re.IGNORECASE)
_CLOSING = re.compile(r"[\s,]*\b(?:" + "|".join(POLITE_CLOSINGS) + r")$", re.IGNORECASE)
_EDGE_PUNCTUATION = re.compile(r"^[^\w'\"(\[]+|[^\w'\")\]]+$")  # keeps quotes and brackets
_NAVIGATION = [(action, re.compile(phrase)) for action, phrase in NAVIGATION]
_OPTIONS, _AGAIN, _HELP = _compile(OPTIONS), _compile(AGAIN), _compile(HELP)
_REFINEMENTS = [(refinement, re.compile(refinement.phrase)) for refinement in REFINEMENTS]
_EDIT_KINDS = [(kind, re.compile(kind.pattern)) for kind in EDIT_KINDS]
_INTENSITY = [(re.compile(r"\b(?:" + words + r")\b"), factor) for words, factor in INTENSITY_WORDS]
_START_FROM = re.compile(
    r"^(?:go back to|back to|take me back to|revert to|return to|start from|from) (?:the "
    r"original|step " + _NUMBER + r")[,;]? (?:and then |and |then )?(?P<rest>.+)$",
    re.IGNORECASE,
)
_UNDO_THEN = re.compile(
    r"^(?:undo|go back|scratch|revert)(?: that| it| this)?(?:,\s*(?:and then |and |then )?"
    r"|\s+(?:and then |and |then ))(?P<rest>.+)$",
    re.IGNORECASE,
)
_DISCOURSE = re.compile(r"^(?:(?:" + "|".join(DISCOURSE) + r")\b[\s,.!]*)+", re.IGNORECASE)
_DISCOURSE_BEFORE_COMMA = re.compile(r"^(?:(?:" + DISCOURSE[0] + r")\s*,\s*)+", re.IGNORECASE)
_SMALL_TALK = [(re.compile(phrase), reply) for phrase, reply in SMALL_TALK]
_VAGUE = _compile(VAGUE)
COMMAND_WORDS = sorted(  # the words misspellings are corrected to, in short messages only
    set(re.findall(r"[a-z]{4,}", " ".join(
        [phrase for _, phrase in NAVIGATION] + list(OPTIONS) + list(AGAIN)
        + [refinement.phrase for refinement in REFINEMENTS]
    )))
)
_COMMAND_WORDS_BY_LETTER = {
    letter: [word for word in COMMAND_WORDS if word[0] == letter]
    for letter in {word[0] for word in COMMAND_WORDS}
}
TYPO_WORDS = 6  # messages of at most this many words get their misspellings corrected


def intensity_of(key: str) -> tuple[str, float] | None:
    """The first intensity word of a phrase key and its factor on the recommended s_T:
    "make it much darker" → ("much", 1.3); None when it has none."""
    return next(((match[0], factor) for pattern, factor in _INTENSITY
                 if (match := pattern.search(key))), None)


def starting_point(command: Command) -> str:
    """Where an edit starts, as a rationale opens: "from step 2, "; "" for the current image."""
    if command.undo_first:
        return "from the image before this one, "
    return {None: "", 0: "from the original, "}.get(command.target,
                                                     f"from step {command.target}, ")


def clean_politeness(text: str) -> str:
    """The message without greetings, requests and thanks around it, and without the
    punctuation at its ends: "Could you please make it winter?" → "make it winter"."""
    cleaned = " ".join(text.replace("’", "'").split())
    previous = None
    while cleaned != previous:
        previous = cleaned
        cleaned = _EDGE_PUNCTUATION.sub("", cleaned)
        cleaned = _CLOSING.sub("", _OPENING.sub("", cleaned))
    return cleaned


def plain(text: str) -> str:
    """The message in lower case, punctuation other than apostrophes turned into spaces."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.replace("’", "'").lower()).split())


def phrase_key(text: str) -> str:
    """What the phrase tables are matched against: the cleaned message, `plain`."""
    return plain(clean_politeness(text))


def corrected(key: str) -> str:
    """A short message with misspelt command words corrected: "udno" → "undo". A misspelling
    keeps its first letter, so real words stay ("other" is not "another")."""
    words = key.split()
    if len(words) > TYPO_WORDS:
        return key
    return " ".join(
        word if len(word) < 4 or word in COMMAND_WORDS
        else next(iter(get_close_matches(word, _COMMAND_WORDS_BY_LETTER.get(word[0], []),
                                         n=1, cutoff=0.75)), word)
        for word in words
    )


def message_problem(text: str) -> str | None:
    """Why a message cannot be read as a request at all, or None when it can."""
    if len(text) > MAX_MESSAGE_CHARS:
        return (
            f"That message is {len(text):,} characters long; say what to change in under "
            f"{MAX_MESSAGE_CHARS:,} characters."
        )
    if not any(character.isalnum() for character in phrase_key(text)):
        return (
            "There is nothing to act on in that message; say what to change, e.g. 'make it winter'."
        )
    return None


def _step_number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


def _last_edit(history: Sequence[Turn]) -> Command | None:
    """The most recent command that ran the editor, which refinements and 'again' repeat."""
    for turn in reversed(history):
        if turn.command.action in ("edit", "refine", "again"):
            return turn.command
    return None


class RuleInterpreter:
    """Interprets chat turns with the tables above; the same text and history always give the
    same command."""

    looks_at_image = False

    def __init__(self, defaults: ScaleDefaults, limits: ScaleLimits = DEFAULT_LIMITS) -> None:
        self.defaults = defaults
        self.limits = limits

    def interpret(
        self, text: str, image: Image.Image | None = None, history: Sequence[Turn] = ()
    ) -> Command:
        """The command for `text`; `image` is not looked at, `history` is oldest first."""
        problem = message_problem(text)
        said = (plain(text), phrase_key(text)) if len(text) <= MAX_MESSAGE_CHARS else ()
        small_talk = next((reply for pattern, reply in _SMALL_TALK
                           if any(pattern.fullmatch(key) for key in said)), None)
        if small_talk:  # before the problem: "thanks!" is all politeness
            return Command(action="help", rationale=small_talk)
        if problem:
            return Command(action="help", rationale=problem)
        whole_key = phrase_key(text)
        key = _DISCOURSE.sub("", whole_key)
        if not key:  # only "no", "hmm", "oops": something is wrong, but what?
            return self._clarify(history)
        for candidate in dict.fromkeys([whole_key, key, corrected(key)]):
            if command := self._phrase_command(candidate, history):
                return command
        if command := self._clause_command(text, history):
            return command
        cleaned = _DISCOURSE_BEFORE_COMMA.sub("", clean_politeness(text))
        if (match := _START_FROM.match(cleaned)) and (rest := clean_politeness(match["rest"])):
            step = 0 if match["step"] is None else _step_number(match["step"])
            return self._edit(rest, target=step)
        if (match := _UNDO_THEN.match(cleaned)) and (rest := clean_politeness(match["rest"])):
            return self._edit(rest, undo_first=True)
        if QUESTION.fullmatch(key) or (YES_NO_QUESTION.fullmatch(key) and text.endswith("?")):
            return Command(action="help",
                           rationale=SCALES_TEXT if SCALE_WORDS.search(key) else HELP_TEXT)
        if any(pattern.fullmatch(key) for pattern in _VAGUE) or UNDO_WORDS.search(key):
            return self._clarify(history)
        return self._edit(cleaned)

    def _phrase_command(self, key: str, history: Sequence[Turn]) -> Command | None:
        """The command of a message one of the phrase tables knows, or None."""
        if any(pattern.fullmatch(key) for pattern in _HELP):
            return Command(action="help", rationale=HELP_TEXT)
        for action, pattern in _NAVIGATION:
            if match := pattern.fullmatch(key):
                return self._navigate(action, match)
        for pattern in _OPTIONS:
            if match := pattern.fullmatch(key):
                return self._options(match.groupdict().get("instruction"), history)
        if any(pattern.fullmatch(key) for pattern in _AGAIN):
            return self._again(history)
        if match := AGAIN_BUT.fullmatch(key):
            key = match["rest"]
        for refinement, pattern in _REFINEMENTS:
            if pattern.fullmatch(key):
                return self._refine(refinement, history)
        return self._word_intent(key, history)

    def _word_intent(self, key: str, history: Sequence[Turn]) -> Command | None:
        """The command of a short message made of filler words and intent words; where
        several intents appear, the first in WORD_INTENTS wins ("start again from the
        original" is a reset)."""
        words = set(key.replace("once more", "again").replace("one more", "again").split())
        if len(key.split()) > INTENT_WORDS_LIMIT:
            return None
        intents = [name for name, vocabulary in WORD_INTENTS if words & vocabulary]
        if not intents or not words <= FILLER_WORDS.union(*(dict(WORD_INTENTS)[name]
                                                              for name in intents)):
            return None
        intent = intents[0]
        if intent in ("undo", "redo", "reset"):
            return navigation(intent)
        if intent == "options":
            return self._options(None, history)
        if intent == "again":
            return self._again(history)
        name = f"a bit {intent}" if words & MILD_WORDS else intent
        return self._refine(next(r for r in REFINEMENTS if r.name == name), history)

    def _clause_command(self, text: str, history: Sequence[Turn]) -> Command | None:
        """The command of one clause of "that was better before, undo", when the other
        clauses ask for no edit."""
        clauses = [clause for clause in re.split(r"[,;]", text) if clause.strip()]
        if len(clauses) < 2:
            return None
        for index in reversed(range(len(clauses))):
            others = " ".join(clauses[:index] + clauses[index + 1:]).lower()
            key = _DISCOURSE.sub("", phrase_key(clauses[index]))
            if key and not EDIT_VERBS.search(others) and \
                    (command := self._phrase_command(key, history)):
                return command
        return None

    def _clarify(self, history: Sequence[Turn]) -> Command:
        if _last_edit(history) is None:
            return Command(action="help", rationale=HELP_TEXT)
        return Command(action="clarify", rationale=CLARIFY_TEXT, choices=CLARIFY_CHOICES)

    def _navigate(self, action: Action, match: re.Match[str]) -> Command:
        return navigation(action, _step_number(match["step"]) if action == "revert" else None)

    def _options(self, instruction: str | None, history: Sequence[Turn]) -> Command:
        if instruction:
            edit = self._edit(instruction)
        elif last := _last_edit(history):
            edit = last
        else:
            return Command(
                action="help",
                rationale="There is no edit to show options for yet; say what to change first.",
            )
        return edit.model_copy(
            update={
                "action": "options",
                "target": None,
                "fallback_reason": None,
                "rationale": f"Showing '{edit.instruction}' at several scales to pick from.",
            }
        )

    def _again(self, history: Sequence[Turn]) -> Command:
        last = _last_edit(history)
        if last is None:
            return Command(
                action="help", rationale="There is no edit to repeat yet; say what to change first."
            )
        return last.model_copy(
            update={
                "action": "again",
                "target": None,
                "fallback_reason": None,
                "rationale": f"Re-running '{last.instruction}' with the same scales, new seed.",
            }
        )

    def _refine(self, refinement: Refinement, history: Sequence[Turn]) -> Command:
        last = _last_edit(history)
        if last is None:
            return Command(
                action="help",
                rationale=f"There is no edit to make {refinement.name} yet; say what to change "
                "first.",
            )
        old_text = last.text_scale if last.text_scale is not None else self.defaults.text_scale
        old_image = last.image_scale if last.image_scale is not None else self.defaults.image_scale
        text_factor, image_step = refinement.text_factor, refinement.image_step
        if not self.defaults.image_guidance:  # no s_I: closer to the original is less change
            text_factor *= 1 - image_step * NO_IMAGE_GUIDANCE_FACTOR
            image_step = 0.0
        refined = Command.clamped(
            self.limits,
            action="refine",
            instruction=last.instruction,
            text_scale=round(old_text * text_factor, 2),
            image_scale=self._image_scale(round(old_image + image_step, 2)),
            scope=last.scope,
        )
        changes = [
            f"{name} {scale_text(old)} → {scale_text(new)}"
            for name, old, new in (
                ("s_T", old_text, refined.text_scale),
                ("s_I", old_image, refined.image_scale),
            )
            if new is not None and round(old, 2) != round(new, 2)
        ]
        change = ", ".join(changes) or "the scales are already at their limits"
        return refined.model_copy(
            update={"rationale": f"Re-running '{last.instruction}' {refinement.name}: {change}."}
        )

    def _edit(
        self, instruction: str, target: int | None = None, undo_first: bool = False
    ) -> Command:
        key = phrase_key(instruction)
        kind = next((kind for kind, pattern in _EDIT_KINDS if pattern.search(key)), ANY_EDIT)
        intensity = intensity_of(key)
        factor = intensity[1] if intensity else 1.0
        command = Command.clamped(
            self.limits,
            action="edit",
            instruction=instruction,
            text_scale=round(self.defaults.text_scale * factor, 2),
            image_scale=self._image_scale(round(self.defaults.image_scale + kind.image_step, 2)),
            target=target,
            undo_first=undo_first,
            scope=kind.scope,
        )
        strength = (
            f"'{intensity[0]}' sets s_T {scale_text(command.text_scale)}"
            if intensity
            else f"s_T {scale_text(command.text_scale)} is the model's recommended strength"
        )
        start = starting_point(command)
        if command.image_scale is None:
            guard = "this model has no s_I" + (
                ", so the edit is kept to where it acts" if kind.scope != "global" else "")
        else:
            guard = f"s_I {scale_text(command.image_scale)} {kind.reason}"
        rationale = f"{start}{kind.name}: {guard}; {strength}."
        return command.model_copy(update={"rationale": rationale[0].upper() + rationale[1:]})

    def _image_scale(self, suggested: float) -> float | None:
        """`suggested`, or None for a model without image guidance."""
        return suggested if self.defaults.image_guidance else None
