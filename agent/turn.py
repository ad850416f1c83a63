"""One chat turn as a LangGraph graph: interpret → route → navigate | edit → check → commit |
options → pick | reply.

    interpret ─┬─► navigate ──────────────────────────────┐
               ├─► edit ──► check ──► commit ─────────────┤
               ├─► options ──► pick (waits for a choice) ─┤
               └──────────────────────────────────────────┴─► reply

The graph state holds ids and parameters only. Images (the parent, the edits, a mask the
person drew) travel through `Agent.scratch`, keyed by the turn's thread id, and land in the
session store when a node is committed. An edit is composed onto its parent at the parent's
own size before it is checked: outside its mask the parent's pixels stay exactly as they were.
Progress (the stage, and step i of n while the editor runs) is written to LangGraph's "custom"
stream; `run_turn` hands each event to the caller's `on_event`, which is how the command
line draws its progress bar and the app its progress widget.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_config, get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command as Resume
from langgraph.types import interrupt
from PIL import Image

from editor import Editor, EditRequest, EditResult
from editor.composite import Composite, compose
from editor.grid import default_grid_scales
from editor.images import load_image, to_png_bytes
from memory import History, NodeInfo, NotFound, SessionStore

from .checks import Drift, has_acted, has_drifted, is_better, measure_drift, retry_image_scale
from .command import DEFAULT_LIMITS, Command, ScaleLimits, Turn, clean_message
from .errors import AgentError
from .interpret import Interpreter
from .numbers import scale_text
from .objects import route_object_edit
from .repertoire import repertoire_of, within_repertoire

if TYPE_CHECKING:
    from editor.grounding import GroundedInpaintEditor

EventHandler = Callable[[dict[str, Any]], None]
ADJUST_HINT = "Say 'stronger' or 'subtler' to adjust, 'again' for another take, 'undo' to go back."


@dataclass
class Agent:
    """Everything a turn needs, passed in explicitly: no hidden globals."""

    store: SessionStore
    editor: Editor
    interpreter: Interpreter
    owner: str = "local"
    steps: int | None = None  # None: the editor model's default
    scheduler: str | None = None
    seed: int | None = None  # a fixed seed for every edit; None: a fresh one each time
    limits: ScaleLimits = DEFAULT_LIMITS
    scratch: dict[str, dict[str, Any]] = field(default_factory=dict)  # images between nodes
    # A grounded model (editor.grounding): edits that replace or remove a named object are
    # repainted only inside the object's mask (agent/objects.py). None: the editor does all.
    objects: GroundedInpaintEditor | None = None

    def __post_init__(self) -> None:
        self.graph = build_graph(self)


@dataclass
class TurnResult:
    """What a turn did: the command, the node the head is on now, and the reply to show."""

    command: Command
    reply: str
    node_id: int
    changed: bool  # a new image state was committed
    metrics: dict[str, Any] = field(default_factory=dict)
    options: PendingOptions | None = None  # set when the person must pick an option
    choices: tuple[str, ...] = ()  # set when the turn asks back: what the person may answer


@dataclass
class Edited:
    """One edit as the editor returned it, and composed onto its parent at the parent's size."""

    result: EditResult
    composite: Composite


@dataclass
class PendingOptions:
    """An options grid waiting for the person's choice (`choose_option`)."""

    thread_id: str
    instruction: str  # what every option edits, for the caption
    sheet: Image.Image  # the labelled contact sheet
    labels: list[str]  # "s_T 5 · s_I 1.5", in reading order (rows s_T, columns s_I)


class TurnState(TypedDict, total=False):
    session_id: str
    text: str
    command: dict[str, Any]  # Command.model_dump(); given in advance by buttons and sliders
    parent_id: int  # the node an edit starts from, or that a revert goes to
    node_id: int  # where the head is at the end of the turn
    root_id: int  # the session's original image
    changed: bool
    seed: int | None  # None until the editor draws one
    scales: list[tuple[float, float | None]]  # (s_T, s_I) of each image in scratch, in order
    choice: int | None
    metrics: dict[str, Any]
    reply: str


# --- the graph ------------------------------------------------------------------------


def build_graph(agent: Agent):
    """Compile the turn graph for `agent`; its checkpointer keeps turns that wait for a pick."""

    def emit(event: dict[str, Any]) -> None:
        get_stream_writer()(event)

    def interpret(state: TurnState) -> TurnState:
        emit({"stage": "interpreting"})
        history = agent.store.history(agent.owner, state["session_id"])
        head = _node(history, history.session.head_id)
        if state.get("command"):
            command = Command.model_validate(state["command"])
        else:
            image = _image(agent, state["session_id"], head.id) \
                if agent.interpreter.looks_at_image else None
            command = agent.interpreter.interpret(state["text"], image, _turns(history))
        if command.target is not None:  # "go back to step 3 (and ...)": does it exist?
            try:
                history.node_at_step(command.target)
            except NotFound as error:
                command = Command(action="help", rationale=str(error))
        agent.store.add_message(agent.owner, state["session_id"], "user", state["text"])
        if command.action == "edit" and command.undo_first:  # "undo that and make it blue"
            agent.store.undo(agent.owner, state["session_id"])
            history = agent.store.history(agent.owner, state["session_id"])
        parent_id, seed = _starting_point(history, command, agent.seed)
        if command.action in ("edit", "options", "help"):  # before any edit is spent
            parent = _parent_image(agent, state, parent_id)
            command = within_repertoire(command, repertoire_of(agent.editor, parent))
        return {"command": command.model_dump(), "node_id": head.id, "changed": False,
                "root_id": history.session.root_id, "parent_id": parent_id, "seed": seed}

    def route(state: TurnState) -> str:
        action = state["command"]["action"]
        if action in ("undo", "redo", "reset", "revert"):
            return "navigate"
        if action in ("edit", "refine", "again"):
            return "edit"
        return {"options": "options"}.get(action, "reply")

    def navigate(state: TurnState) -> TurnState:
        command = Command.model_validate(state["command"])
        session_id = state["session_id"]
        if command.action == "revert":  # interpret found the target step's node
            result = agent.store.revert(agent.owner, session_id, state["parent_id"])
        else:
            result = getattr(agent.store, command.action)(agent.owner, session_id)
        reply = result.message
        if result.moved:  # undo and redo also say where they went: it is not always the parent
            reply = command.rationale if command.action in ("revert", "reset") else \
                f"{command.rationale} {result.message}"
        return {"node_id": result.node.id, "reply": reply}

    def edit(state: TurnState) -> TurnState:
        command = Command.model_validate(state["command"])
        scratch = agent.scratch.setdefault(_thread(state), {})
        parent = _parent_image(agent, state, state["parent_id"])
        scales = (_text_scale(agent, command), _image_scale(agent, command))
        route = route_object_edit(agent.objects, parent, command, scratch.get("region"))
        if route.editor is not None:  # the object's mask, repainted by the grounded model
            scratch.update(editor=route.editor, region=route.region, rationale=route.note)
            text_scale = command.text_scale if command.action == "refine" else None
            scales = (text_scale or route.editor.defaults.text_scale, None)
            command = command.model_copy(update={"scope": "local"})
        elif route.note:
            scratch["rationale"] = f"{command.rationale}{route.note}"
        edited = _run_editor(agent, parent, command, scales, state["seed"], scratch, emit)
        scratch.update(parent=parent, results=[edited])
        return {"seed": edited.result.seed, "scales": [scales], "command": command.model_dump()}

    def check(state: TurnState) -> TurnState:
        emit({"stage": "checking"})
        command = Command.model_validate(state["command"])
        scratch = agent.scratch[_thread(state)]
        parent, kept = scratch["parent"], scratch["results"][0]
        drift = measure_drift(kept.composite.image, parent, kept.composite.mask)
        retried = ""
        image_scale = kept.result.image_scale  # None: no s_I to raise, so no retry
        higher = None if image_scale is None else retry_image_scale(image_scale, agent.limits)
        if has_drifted(drift, command.scope) and higher is not None:
            scales = (kept.result.text_scale, higher)
            retry = _run_editor(agent, parent, command, scales, state["seed"], scratch, emit)
            retry_drift = measure_drift(retry.composite.image, parent, retry.composite.mask)
            if is_better(retry_drift, drift, command.scope):
                kept, drift = retry, retry_drift
                retried = f" It drifted too far at first, so I raised s_I to {scale_text(higher)}."
            else:
                retried = (f" It drifted; a retry with s_I {scale_text(higher)} was no better, "
                           "so I kept it.")
        if not has_acted(drift):
            retried += " It changed almost nothing; say 'stronger' for a bigger change."
        metrics = _drift_metrics(agent, state, kept.composite, parent, drift)
        metrics["retried"] = bool(retried)
        scratch["results"] = [kept]
        return {"metrics": metrics, "reply": retried}

    def commit(state: TurnState) -> TurnState:
        command = Command.model_validate(state["command"])
        scratch = agent.scratch.pop(_thread(state))
        edited = scratch["results"][0]
        result = edited.result
        node = _commit(agent, state, command, edited, state["metrics"])
        rationale = scratch.get("rationale", command.rationale)
        reply = (f"{rationale} {scales_used(result.text_scale, result.image_scale)}"
                 f"{state['reply']} {ADJUST_HINT}")
        return {"node_id": node.id, "changed": True, "reply": reply}

    def options(state: TurnState) -> TurnState:
        command = Command.model_validate(state["command"])
        text_scales, image_scales = _grid_scales(agent, command)
        scratch = agent.scratch.setdefault(_thread(state), {})
        parent = _parent_image(agent, state, state["parent_id"])
        request = _request(agent, parent, command, None, state["seed"], scratch, emit)
        grid = agent.editor.grid(request, text_scales, image_scales)
        results = [cell for row in grid.results for cell in row]
        scratch.update(parent=parent, results=results, sheet=grid.sheet)
        return {"seed": results[0].seed,
                "scales": [(cell.text_scale, cell.image_scale) for cell in results]}

    def pick(state: TurnState) -> TurnState:
        choice = interrupt({"count": len(state["scales"])})["choice"]
        scratch = agent.scratch.pop(_thread(state))
        if choice is None or not 0 <= choice < len(scratch["results"]):
            return {"reply": "Kept the image as it was; say 'show me options' to see them again."}
        command = Command.model_validate(state["command"])
        result = scratch["results"][choice]
        edited = Edited(result, compose(scratch["parent"], result, scratch.get("region")))
        metrics = _drift_metrics(agent, state, edited.composite, scratch["parent"])
        node = _commit(agent, state, command, edited, metrics)
        return {"node_id": node.id, "changed": True,
                "reply": f"Using option {choice + 1} of '{command.instruction}': "
                         f"{option_label(result.text_scale, result.image_scale)}. {ADJUST_HINT}"}

    def reply(state: TurnState) -> TurnState:
        command = Command.model_validate(state["command"])
        text = state.get("reply") or command.rationale
        if command.fallback_reason:
            text = f"{text} (The VLM's answer was not usable: {command.fallback_reason})"
        agent.store.add_message(agent.owner, state["session_id"], "assistant", text,
                                node_id=state["node_id"])
        return {"reply": text}

    graph = StateGraph(TurnState)
    for step in (interpret, navigate, edit, check, commit, options, pick, reply):
        graph.add_node(step.__name__, step)
    graph.add_edge(START, "interpret")
    graph.add_conditional_edges("interpret", route, ["navigate", "edit", "options", "reply"])
    graph.add_edge("edit", "check")
    graph.add_edge("check", "commit")
    graph.add_edge("options", "pick")
    for last in ("navigate", "commit", "pick"):
        graph.add_edge(last, "reply")
    graph.add_edge("reply", END)
    return graph.compile(checkpointer=InMemorySaver())


# --- running a turn -------------------------------------------------------------------


def run_turn(
    agent: Agent,
    session_id: str,
    text: str,
    on_event: EventHandler | None = None,
    command: Command | None = None,
    region: Image.Image | None = None,
) -> TurnResult:
    """Run one chat turn to its end, or until an options grid waits for a pick.

    `command` skips the interpreter: the app's buttons and sliders say exactly what they
    want (e.g. a 'refine' with the sliders' scales); `text` is then what the transcript shows.
    `region` is a mask the person drew (white = may change): an edit stays inside it.
    """
    agent.store.history(agent.owner, session_id)  # unknown session or owner: fail before work
    text = clean_message(text)
    thread_id = f"{session_id}:{uuid.uuid4().hex}"
    agent.scratch[thread_id] = {"region": region}
    state: TurnState = {"session_id": session_id, "text": text}
    if command is not None:
        state["command"] = command.model_dump()
    return _stream(agent, state, thread_id, on_event)


def choose_option(
    agent: Agent, pending: PendingOptions, choice: int | None, on_event: EventHandler | None = None
) -> TurnResult:
    """Finish an options turn: commit option `choice` (0-based), or none when it is None.

    The choice travels wrapped in a dict: LangGraph reads `Resume(resume=None)` as "no value".
    """
    return _stream(agent, Resume(resume={"choice": choice}), pending.thread_id, on_event)


def _stream(agent: Agent, graph_input: Any, thread_id: str, on_event: EventHandler | None):
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    try:
        for mode, chunk in agent.graph.stream(graph_input, config, stream_mode=["custom",
                                                                                 "values"]):
            if mode == "custom" and on_event:
                on_event(cast(dict[str, Any], chunk))
    except BaseException:
        agent.scratch.pop(thread_id, None)
        raise
    snapshot = agent.graph.get_state(config)
    if not snapshot.next:  # the turn is over (a navigation, a reply): its scratch too
        agent.scratch.pop(thread_id, None)
    state = cast(TurnState, snapshot.values)
    command = Command.model_validate(state["command"])
    if snapshot.next:  # waiting in `pick`
        scratch = agent.scratch[thread_id]
        labels = [option_label(s_t, s_i) for s_t, s_i in state["scales"]]
        return TurnResult(command, command.rationale, state["node_id"], False,
                          options=PendingOptions(thread_id, command.instruction,
                                                 scratch["sheet"], labels))
    return TurnResult(command, state["reply"], state["node_id"], state["changed"],
                      state.get("metrics", {}), choices=command.choices)


def option_label(text_scale: float, image_scale: float | None) -> str:
    """How an option is named in replies and under its button: "s_T 5 · s_I 1.5" ("s_T 2.5"
    for a model without image guidance)."""
    if image_scale is None:
        return f"s_T {scale_text(text_scale)}"
    return f"s_T {scale_text(text_scale)} · s_I {scale_text(image_scale)}"


def scales_used(text_scale: float, image_scale: float | None) -> str:
    """The sentence of a reply that says which scales an edit used."""
    if image_scale is None:
        return (f"Used s_T {scale_text(text_scale)} (how big a change; this model has no s_I, "
                "so a local edit is kept to its mask instead).")
    return (f"Used s_T {scale_text(text_scale)} (how big a change) and s_I "
            f"{scale_text(image_scale)} (how close to the original).")


# --- helpers --------------------------------------------------------------------------


def _thread(state: TurnState) -> str:
    """The turn's thread id, which keys its images in `Agent.scratch`."""
    return get_config()["configurable"]["thread_id"]


def _node(history: History, node_id: int) -> NodeInfo:
    return next(node for node in history.nodes if node.id == node_id)


def _image(agent: Agent, session_id: str, node_id: int) -> Image.Image:
    return load_image(agent.store.node_image(agent.owner, session_id, node_id))


def _parent_image(agent: Agent, state: TurnState, parent_id: int) -> Image.Image:
    """The image the turn edits, decoded once per turn and kept in its scratch."""
    scratch = agent.scratch.setdefault(_thread(state), {})
    if "parent" not in scratch:
        scratch["parent"] = _image(agent, state["session_id"], parent_id)
    return scratch["parent"]


def _turns(history: History) -> list[Turn]:
    """The edits that made the image shown now, oldest first, as the interpreter's history.

    The last one, the image's own edit, is what 'stronger', 'again' and 'show me options'
    repeat, also after an undo or a revert; at the original there is none.
    """
    turns = []
    nodes = {node.id: node for node in history.nodes}
    for node_id in history.head_path[1:]:
        params = nodes[node_id].params
        command = Command.clamped(
            action="edit", instruction=params.instruction or params.chat_text or "edit",
            text_scale=params.text_scale, image_scale=params.image_scale,
            scope=params.metrics.get("scope", "global"),
        )
        turns.append(Turn(params.chat_text, command))
    return turns


def _starting_point(
    history: History, command: Command, fixed_seed: int | None
) -> tuple[int, int | None]:
    """The node an edit starts from, and its seed.

    A new edit starts from the head (or from step `target`, "go back to step 2 and ...").
    'refine' and 'again' re-run the head's own edit from the head's parent, so the new image
    is a sibling of the last attempt; 'refine' keeps its seed, 'again' draws a new one.
    A `fixed_seed` (the person's setting) always wins.
    """
    head = _node(history, history.session.head_id)
    if command.action in ("refine", "again", "options") and head.parent_id is not None \
            and command.instruction == head.params.instruction:
        seed = head.params.seed if command.action == "refine" else None
        return head.parent_id, seed if fixed_seed is None else fixed_seed
    if command.target is not None:
        return history.node_at_step(command.target).id, fixed_seed
    return head.id, fixed_seed


def _text_scale(agent: Agent, command: Command) -> float:
    return command.text_scale if command.text_scale is not None else \
        agent.editor.defaults.text_scale


def _image_scale(agent: Agent, command: Command) -> float | None:
    """The command's s_I, the model's default when it has none, None when the model has no
    image guidance."""
    if not agent.editor.defaults.image_guidance:
        return None
    return command.image_scale if command.image_scale is not None else \
        agent.editor.defaults.image_scale


def _grid_scales(agent: Agent, command: Command) -> tuple[list[float], list[float]]:
    """A 3×3 spread around the command's scales (the model's defaults when it has none),
    moved as a whole to lie within the agent's limits: options after "stronger, stronger"
    at s_T 15 are 5, 10 and 15, not 10, 15 and 20."""
    defaults = agent.editor.defaults
    centre = replace(defaults, text_scale=_text_scale(agent, command),
                     image_scale=_image_scale(agent, command) or 0.0)
    text_scales, image_scales = default_grid_scales(centre)
    return _fit(text_scales, agent.limits.text_scale), _fit(image_scales, agent.limits.image_scale)


def _fit(values: list[float], limits: tuple[float, float]) -> list[float]:
    """`values` shifted together into `limits` (and clamped, if they spread wider); none for a
    model without that scale."""
    if not values:
        return values
    low, high = limits
    shift = max(0.0, low - min(values)) - max(0.0, max(values) - high)
    return [round(min(max(value + shift, low), high), 2) for value in values]


def _drift_metrics(agent, state, composite: Composite, parent,
                   from_parent: Drift | None = None) -> dict:
    """The node's metrics: the edit's scope and its drift from the parent and the original."""
    command = Command.model_validate(state["command"])
    original = parent if state["parent_id"] == state["root_id"] else \
        _image(agent, state["session_id"], state["root_id"])
    from_parent = from_parent or measure_drift(composite.image, parent, composite.mask)
    return {
        "scope": command.scope,
        "drift_parent": vars(from_parent),
        "drift_original": vars(measure_drift(composite.image, original)),
    }


def _request(agent, image, command, scales, seed, scratch, emit) -> EditRequest:
    """The editor request for `command` on `image`; a local edit is confined to where the
    instruction acts, and to the person's region when they drew one."""
    region = scratch.get("region")
    if region is not None and command.scope == "global":
        raise AgentError(
            f"A mask limits a local edit, but '{command.instruction}' restyles the whole "
            "picture; leave the mask out, or say what to change inside it."
        )
    editor = scratch.get("editor", agent.editor)
    total = agent.steps or editor.defaults.steps
    emit({"stage": "editing", "step": 0, "total": total})
    text_scale, image_scale = scales or (None, None)
    return EditRequest(
        image=image, instruction=command.instruction, text_scale=text_scale,
        image_scale=image_scale, steps=agent.steps, seed=seed,
        scheduler=agent.scheduler if editor is agent.editor else None,
        on_step=lambda step, steps: emit({"stage": "editing", "step": step, "total": steps}),
        confine=command.scope != "global", region=region,
    )


def _run_editor(agent, image, command, scales, seed, scratch, emit) -> Edited:
    """Edit `image` and compose the result onto it at its own size."""
    editor = scratch.get("editor", agent.editor)
    result = editor.edit(_request(agent, image, command, scales, seed, scratch, emit))
    return Edited(result, compose(image, result, scratch.get("region")))


def _commit(agent, state, command, edited: Edited, metrics) -> NodeInfo:
    """Store the composed edit, and its mask, as a child of the turn's parent."""
    get_stream_writer()({"stage": "saving"})
    result = edited.result
    return agent.store.commit_edit(
        agent.owner, state["session_id"], state["parent_id"],
        to_png_bytes(edited.composite.image), mask_png=to_png_bytes(edited.composite.mask),
        chat_text=state["text"], instruction=command.instruction,
        text_scale=result.text_scale, image_scale=result.image_scale, seed=result.seed,
        steps=result.steps, scheduler=result.scheduler, model_id=result.model_id,
        metrics=metrics, timings=result.timings,
    )
