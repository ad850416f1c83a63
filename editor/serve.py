"""The editor as a Ray Serve deployment, shared by every app replica and command line.

    serve run editor.serve:app model=demo               # on a Ray cluster (deploy/README.md)
    serve run deploy/serve.yaml                          # replicas, batching, GPUs from YAML

Each replica loads the model once. Requests that arrive together and share model, steps,
scheduler and working size are denoised as one batch (`@serve.batch` collects them,
`Pix2PixEditor.edit_batch` runs them through the same UNet calls). Each request streams one
JSON line per denoising step and then its results (`editor/remote.py` has the format and the
client); a client that hangs up cancels its request, and a batch stops when every request in
it has gone. Images are sent once: a replica keeps the last `IMAGE_CACHE` pictures by their
SHA-256, and asks for the bytes when it does not have them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .base import EditRequest
from .embedded import EmbeddedEditor, open_model
from .errors import Cancelled, EditorError
from .images import ImageError, load_image
from .pix2pix import Pix2PixEditor
from .remote import result_to_json
from .threads import use_threads_per_edit

IMAGE_CACHE = 64  # pictures a replica remembers by hash
DEFAULT_BATCH_SIZE = 8
BATCH_WAIT_S = 0.05  # how long a batch waits for company once its first request is in


@dataclass
class Job:
    """One request on a replica: what to edit, where its progress goes, and whether its
    client is still there."""

    request: EditRequest
    pairs: list[tuple[float, float]]
    progress: asyncio.Queue = field(default_factory=asyncio.Queue)
    gone: bool = False  # the client hung up


@serve.deployment(ray_actor_options={"num_cpus": 1}, max_ongoing_requests=64,
                  health_check_period_s=2, health_check_timeout_s=10)
class EditorDeployment:
    """One replica: a loaded editor, a picture cache and a batching queue."""

    def __init__(self, model: str = "demo", device: str | None = None,
                 threads: int | None = None, max_batch_size: int = DEFAULT_BATCH_SIZE,
                 batch_wait_s: float = BATCH_WAIT_S):
        if threads:
            import torch

            torch.set_num_threads(threads)
        else:
            use_threads_per_edit()
        editor = open_model(model, device)
        if not isinstance(editor, (Pix2PixEditor, EmbeddedEditor)):
            raise EditorError(f"The editor service batches InstructPix2Pix models; '{model}' "
                              "is not one, so run it in the app's own process instead.")
        self.editor = editor
        self.images: OrderedDict[str, Image.Image] = OrderedDict()
        # `serve.batch` adds these setters to the method; type checkers cannot see them.
        self.edit_batch.set_max_batch_size(max_batch_size)  # pyright: ignore[reportAttributeAccessIssue]
        self.edit_batch.set_batch_wait_timeout_s(batch_wait_s)  # pyright: ignore[reportAttributeAccessIssue]

    async def __call__(self, request: Request) -> Response:
        action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if action == "info" and request.method == "GET":
            return JSONResponse({"model_id": self.editor.model_id,
                                 "device": str(self.editor.device),
                                 "defaults": asdict(self.editor.defaults)})
        if request.method != "POST" or action not in ("edit", "repertoire"):
            return JSONResponse({"error": f"No such endpoint: {request.method} /{action}."},
                                status_code=404)
        try:
            body = await request.json()
            if action == "repertoire":
                image = load_image(base64.b64decode(body["image_png"]))
                return JSONResponse(self._repertoire(image))
            job = self._job(body)
        except (KeyError, TypeError, ValueError, ImageError) as error:
            return JSONResponse({"error": f"A malformed request ({error}); use RemoteEditor."},
                                status_code=400)
        if job is None:
            return JSONResponse({"error": "This replica does not have the image; send it.",
                                 "kind": "MissingImage"})
        return StreamingResponse(self._stream(job), media_type="application/x-ndjson")

    def _repertoire(self, image: Image.Image) -> dict | None:
        repertoire_for = getattr(self.editor, "repertoire_for", None)
        return repertoire_for(image) if repertoire_for else None

    def _job(self, body: dict[str, Any]) -> Job | None:
        """The request in `body`, or None when it names an image this replica lacks."""
        key = body["image_sha256"]
        if body.get("image_png"):
            png = base64.b64decode(body["image_png"])
            if hashlib.sha256(png).hexdigest() != key:
                raise ValueError("the image does not match its hash")
            self.images[key] = load_image(png)
        if key not in self.images:
            return None
        self.images.move_to_end(key)
        while len(self.images) > IMAGE_CACHE:
            self.images.popitem(last=False)
        region = body.get("region_png")
        request = EditRequest(
            image=self.images[key],
            instruction=str(body["instruction"]),
            steps=body.get("steps"),
            seed=body.get("seed"),
            scheduler=body.get("scheduler"),
            confine=bool(body.get("confine")),
            region=None if not region else Image.open(
                io.BytesIO(base64.b64decode(region))).convert("L"),
        )
        pairs = [(float(s_t), float(s_i)) for s_t, s_i in body["pairs"]]
        return Job(request, pairs)

    async def _stream(self, job: Job) -> AsyncIterator[str]:
        """The job's progress lines while it waits and runs, then its results or its error."""
        loop = asyncio.get_running_loop()

        def on_step(step: int, total: int) -> bool:  # called from the denoising thread
            loop.call_soon_threadsafe(job.progress.put_nowait, (step, total))
            return not job.gone

        job.request.on_step = on_step
        outcome = asyncio.ensure_future(self.edit_batch(job))
        outcome.add_done_callback(lambda _: job.progress.put_nowait(None))
        try:
            while (event := await job.progress.get()) is not None:
                yield _line({"step": event[0], "total": event[1]})
            answer = outcome.result()
            if isinstance(answer, EditorError):
                kind = "Cancelled" if isinstance(answer, Cancelled) else "EditorError"
                yield _line({"error": str(answer), "kind": kind})
            else:
                yield _line({"results": [result_to_json(result) for result in answer]})
        finally:
            job.gone = not outcome.done()  # the client hung up: stop its share of the work

    @serve.batch(max_batch_size=DEFAULT_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_S)
    async def edit_batch(self, jobs: list[Job]) -> list:
        return await asyncio.to_thread(self._edit_now, jobs)

    def _edit_now(self, jobs: list[Job]) -> list:
        """Each job's results, or the `EditorError` that stopped it: a batch that fails is
        run again one job at a time, so one bad request fails alone."""
        try:
            return self.editor.edit_batch([(job.request, job.pairs) for job in jobs])
        except Cancelled as error:  # every client hung up
            return [error] * len(jobs)
        except EditorError as error:
            if len(jobs) == 1:
                return [error]
            return [self._edit_now([job])[0] for job in jobs]


def _line(event: dict) -> str:
    return json.dumps(event) + "\n"


def build_app(args: dict[str, str]) -> serve.Application:
    """`serve run editor.serve:build_app model=demo max_batch_size=8`: the deployment's
    arguments from the command line or a config file's `args`."""
    options = {"model": args.get("model", "demo"), "device": args.get("device")}
    for name, kind in (("threads", int), ("max_batch_size", int), ("batch_wait_s", float)):
        if name in args:
            options[name] = kind(args[name])
    return EditorDeployment.bind(**options)

