"""`pixchat say` (one chat turn on a session) and `pixchat interpret` (the command only).

    pixchat say SESSION "make the circle blue"
    pixchat say SESSION "show me options" --pick 2
    pixchat interpret "could you make it winter?" --json

`say --json` prints {"command", "node_id", "changed", "metrics", "reply", "choices"};
`interpret --json` prints the command alone. When a message is unclear the reply is a
question and "choices" its answers; at a terminal `say` offers them as a numbered list.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from editor.images import load_image

from .cli_edit import save, warn
from .cli_sessions import open_store
from .numbers import scale_text
from .setup import open_agent, open_interpreter, read_region

if TYPE_CHECKING:
    from tqdm import tqdm

    from .turn import PendingOptions, TurnResult


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `say` and `interpret` commands."""
    say = subparsers.add_parser("say", help="say one thing to a session and apply it")
    say.add_argument("session", help="session id")
    say.add_argument("text", help='what you would type in the chat, e.g. "make it winter"')
    add_model_arguments(say)
    say.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    say.add_argument("--seed", type=int, help="fixed seed for the edit (default: a new one)")
    say.add_argument("--pick", type=int, metavar="N",
                     help="for options: keep option N (1-based) without asking")
    say.add_argument("--sheet", type=Path, metavar="FILE",
                     help="for options: write the contact sheet to FILE (default: none is written)")
    say.add_argument("--mask", type=Path, metavar="PNG",
                     help="confine the edit to where this mask is white (the image's shape)")
    say.add_argument("--objects", metavar="MODEL",
                     help="a grounded model (sam-inpaint, or a folder) that repaints only the "
                     "object an edit replaces or removes (default: none)")
    say.add_argument("--json", action="store_true", help="print the result as JSON")
    say.set_defaults(run=run_say)

    interpret = subparsers.add_parser("interpret", help="show the command a chat turn becomes")
    interpret.add_argument("text")
    interpret.add_argument("--image", type=Path, help="the current image, for a VLM to look at")
    add_model_arguments(interpret)
    interpret.add_argument("--json", action="store_true", help="print the command as JSON")
    interpret.set_defaults(run=run_interpret)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="demo",
        help="editor model: ip2p, magicbrush, kontext, qwen-edit, demo, a hub id or a folder "
        "(default: demo)",
    )
    parser.add_argument(
        "--interpreter", default="rules",
        help="rules (default) or vlm:<hub id or folder> of an image-text-to-text model",
    )


def run_say(args: argparse.Namespace) -> int:
    from .turn import run_turn  # LangGraph and the model libraries load only here

    store = open_store(args)
    store.get_session(args.owner, args.session)  # an unknown session fails before models load
    region = None
    if args.mask:  # a bad mask fails before models load too
        head = load_image(store.node_image(args.owner, args.session))
        region = read_region(args.mask, head.size)
    agent = open_agent(store, args.model, args.interpreter, owner=args.owner, steps=args.steps,
                       seed=args.seed, warn=warn, objects=args.objects,
                       editor_url=args.editor_url)
    with ProgressBar() as progress:
        result = run_turn(agent, args.session, args.text, on_event=progress, region=region)
    if result.options:
        result = _pick(agent, result.options, args, progress)
    if result.choices and not args.json and sys.stdin.isatty():
        result = _answer(agent, result, args, progress, region)
    if args.json:
        print(json.dumps(_as_json(result), indent=2))
    else:
        print(result.reply)
        if result.choices:
            print(choices_text(result.choices))
    return 0


def run_interpret(args: argparse.Namespace) -> int:
    from .command import clean_message  # pydantic loads only here

    image = load_image(args.image) if args.image else None
    interpreter = open_interpreter(args.interpreter, args.model, warn=warn)
    command = interpreter.interpret(clean_message(args.text), image)
    if args.json:
        print(command.model_dump_json(indent=2))
    else:
        scales = ", ".join(f"{name} {scale_text(value)}" for name, value in
                           (("s_T", command.text_scale), ("s_I", command.image_scale))
                           if value is not None)
        print(f"{command.action}: {command.instruction or '-'}"
              f"{f' ({scales})' if scales else ''} — {command.rationale}")
        if command.choices:
            print(choices_text(command.choices))
    return 0


def choices_text(choices: tuple[str, ...]) -> str:
    """The answers to a question, as the person can type them."""
    return "Answer with one of:\n" + "\n".join(
        f"  {number}. {choice}" for number, choice in enumerate(choices, start=1))


def _answer(agent, result: TurnResult, args: argparse.Namespace, progress, region) -> TurnResult:
    """Ask the question at the terminal and run the answer picked as the next turn; with
    none picked, the question stays the result."""
    from .turn import run_turn

    print(f"{result.reply}\n{choices_text(result.choices)}", file=sys.stderr)
    answer = input(f"Which one (1–{len(result.choices)}, Enter for none)? ").strip()
    if not answer.isdigit() or not 1 <= int(answer) <= len(result.choices):
        return result
    return run_turn(agent, args.session, result.choices[int(answer) - 1], on_event=progress,
                    region=region)


def _pick(agent, options: PendingOptions, args: argparse.Namespace, progress) -> TurnResult:
    """List the options (and write their sheet if --sheet asks) and commit the one the person
    picks, or none."""
    from .turn import choose_option

    labels = "\n".join(f"  {number}. {label}" for number, label in
                       enumerate(options.labels, start=1))
    if args.sheet:
        save(options.sheet, args.sheet)
        where = f"drawn on {args.sheet.resolve()}"
    else:
        where = "not drawn; add --sheet FILE.png to see them"
    print(f"Options ({where}):\n{labels}", file=sys.stderr)
    choice = args.pick
    if choice is None and sys.stdin.isatty():
        # The question goes to stderr, like the list: stdout is for the result (--json).
        print(f"Keep which option (1–{len(options.labels)}, Enter for none)? ",
              end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline()
        choice = int(answer) if answer.strip().isdigit() else None
    index = choice - 1 if choice is not None else None
    return choose_option(agent, options, index, on_event=progress)


def _as_json(result: TurnResult) -> dict:
    return {
        "command": result.command.model_dump(mode="json"),
        "node_id": result.node_id,
        "changed": result.changed,
        "metrics": result.metrics,
        "reply": result.reply,
        "choices": list(result.choices),
    }


class ProgressBar:
    """Shows the turn's stage, and a bar over the denoising steps while the editor runs."""

    def __enter__(self) -> ProgressBar:
        self.bar: tqdm | None = None
        return self

    def __call__(self, event: dict) -> None:
        if "step" not in event:
            if self.bar is None:
                print(f"{event['stage']}…", file=sys.stderr)
            return
        if self.bar is None or event["step"] == 0:
            self.close()
            from tqdm import tqdm

            self.bar = tqdm(total=event["total"], desc=event["stage"], unit="step")
        self.bar.update(event["step"] - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __exit__(self, *exc) -> None:
        self.close()
