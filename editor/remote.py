"""An editor on a Ray Serve deployment (`editor/serve.py`), reached over HTTP.

`RemoteEditor(url)` is an `Editor` like the in-process ones: the agent, the command line and
the app use it the same way (`--editor-url` / `PIXCHAT_EDITOR_URL`). It needs nothing but the
standard library and Pillow; torch runs on the deployment's replicas.

The wire format, one JSON object per request and one JSON line per event back:

    POST {url}/edit  {"image_sha256", "image_png" (base64, left out when the deployment has
                      the image already), "instruction", "pairs": [[s_T, s_I], ...], "steps",
                      "seed", "scheduler", "confine", "region_png"}
        → {"step": i, "total": n} per denoising step, then {"results": [result, ...]}
          or {"error": sentence, "kind": "EditorError" | "Cancelled" | "MissingImage"}
    GET  {url}/info        → {"model_id", "device", "defaults": {...}}
    POST {url}/repertoire  {"image_png"} → the repertoire of the model for that image, or null

A result carries the `EditResult` fields, its images as base64 PNG. The request's seed is
chosen here when the person leaves it unset, so a retry after a lost connection (a replica
restarted mid-edit) draws the same picture.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, fields
from typing import Any

from PIL import Image

from .base import EditRequest, EditResult, ModelDefaults
from .errors import Cancelled, EditorError
from .grid import GridResult, assemble_grid, grid_scales
from .images import to_png_bytes

IMAGE_MODES = {"image": "RGB", "seen": "RGB", "mask": "L"}  # EditResult's pictures, as PNG
RETRY_AFTER_S = 2.0  # a lost connection is retried once, after this wait
TIMEOUT_S = 600.0  # the longest wait for the next line (a busy deployment queues requests)
LOOK_SIZE = 256  # the repertoire is asked with a copy no larger than this (as embedded does)


class RemoteEditor:
    """The `Editor` protocol over HTTP, against a deployment at `url`."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S):
        self.url = url.rstrip("/")
        self.timeout = timeout
        info = self._ask("GET", "info", None)
        self.defaults = ModelDefaults(**info["defaults"])
        self.model_id: str = info["model_id"]
        self.device: str = info["device"]
        self._sent: set[str] = set()  # images the deployment has been sent
        self.retries = 0  # edits sent again after a lost connection
        self._repertoires: dict[str, dict | None] = {}

    def edit(self, request: EditRequest) -> EditResult:
        return self._edit(request, [request.scales(self.defaults)])[0]

    def grid(self, request: EditRequest, text_scales: Sequence[float] | None = None,
             image_scales: Sequence[float] | None = None) -> GridResult:
        text_scales, image_scales = grid_scales(self.defaults, text_scales, image_scales)
        pairs = [(s_t, s_i) for s_t in text_scales for s_i in image_scales]
        return assemble_grid(self._edit(request, pairs), text_scales, image_scales)

    def repertoire_for(self, image: Image.Image) -> dict | None:
        """What the deployment's model for this kind of picture can do (None: anything)."""
        small = image.copy()
        small.thumbnail((LOOK_SIZE, LOOK_SIZE), Image.Resampling.NEAREST)
        png = to_png_bytes(small)
        key = hashlib.sha256(png).hexdigest()
        if key not in self._repertoires:
            body = {"image_png": base64.b64encode(png).decode()}
            self._repertoires[key] = self._ask("POST", "repertoire", body)
        return self._repertoires[key]

    def _edit(self, request: EditRequest, pairs: list[tuple[float, float]]) -> list[EditResult]:
        """Send the request, report its steps, and return its results; a connection lost
        before the results came back is retried once."""
        png = to_png_bytes(request.image)
        body: dict[str, Any] = {
            "image_sha256": hashlib.sha256(png).hexdigest(),
            "instruction": request.instruction,
            "pairs": [list(pair) for pair in pairs],
            "steps": request.steps,
            "seed": request.seed if request.seed is not None else secrets.randbelow(2**32),
            "scheduler": request.scheduler,
            "confine": request.confine,
            "region_png": None if request.region is None else _b64(to_png_bytes(request.region)),
        }
        try:
            return self._edit_once(body, png, request)
        except LOST_CONNECTION:
            self.retries += 1
            time.sleep(RETRY_AFTER_S)  # for Serve to route around a replica that died
        try:
            return self._edit_once(body, png, request, send_image=True)
        except LOST_CONNECTION as error:
            raise EditorError(
                f"The editor service at {self.url} stopped answering mid-edit "
                f"({_reason(error)}); nothing was changed, try again in a moment."
            ) from None

    def _edit_once(self, body: dict, png: bytes, request: EditRequest,
                   send_image: bool = False) -> list[EditResult]:
        """One try; the image's bytes go along unless the deployment should have them."""
        key = body["image_sha256"]
        results = None
        if not send_image and key in self._sent:
            results = self._stream_edit({**body, "image_png": None}, request)
        if results is None:  # never sent, or the replica no longer has it
            results = self._stream_edit({**body, "image_png": _b64(png)}, request)
        if results is None:
            raise EditorError(f"The editor service at {self.url} lost the picture it was "
                              "just sent; try again in a moment.")
        self._sent.add(key)
        return results

    def _stream_edit(self, body: dict, request: EditRequest) -> list[EditResult] | None:
        """One POST /edit: progress to `request.on_step`; the results, or None when the
        deployment asks for the image's bytes."""
        with self._send("POST", "edit", body) as response:
            for event in _lines(response):
                if "step" in event:
                    if request.on_step is not None and request.on_step(
                            event["step"], event["total"]) is False:
                        raise Cancelled(f"Edit cancelled at step {event['step']} of "
                                        f"{event['total']}; nothing was changed.")
                elif "results" in event:
                    return [result_from_json(one) for one in event["results"]]
                elif event.get("kind") == "MissingImage":
                    return None
                elif event.get("kind") == "Cancelled":
                    raise Cancelled(event["error"])
                else:
                    raise EditorError(event["error"])
        raise EditorLost("the answer ended before the result")

    def _ask(self, method: str, path: str, body: dict | None) -> Any:
        """A short question's JSON answer; a lost connection is one sentence."""
        try:
            with self._send(method, path, body) as response:
                return json.loads(response.read())
        except LOST_CONNECTION as error:
            raise EditorError(f"The editor service at {self.url} stopped answering "
                              f"({_reason(error)}); try again in a moment.") from None

    def _send(self, method: str, path: str, body: dict | None) -> http.client.HTTPResponse:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            if error.code >= 500:
                raise EditorLost(f"HTTP {error.code}") from None
            raise EditorError(f"The editor service at {self.url} refused the request "
                              f"(HTTP {error.code}); check --editor-url.") from None
        except urllib.error.URLError as error:
            if method == "GET":  # the first contact: say where to look
                raise EditorError(
                    f"No editor service answers at {self.url} ({_reason(error.reason)}); "
                    "start one (deploy/README.md) or leave --editor-url unset."
                ) from None
            raise


class EditorLost(Exception):
    """The deployment went away mid-request (a replica restarted, the proxy had no replica)."""


LOST_CONNECTION = (OSError, http.client.HTTPException, EditorLost)


def result_to_json(result: EditResult) -> dict:
    """An `EditResult` as JSON: its pictures as base64 PNG, every other field as is."""
    data = asdict(result)
    for name in IMAGE_MODES:
        data[name] = _b64(to_png_bytes(getattr(result, name)))
    return data


def result_from_json(data: dict) -> EditResult:
    """The `EditResult` that `result_to_json` wrote, pixel for pixel."""
    values = {field.name: data[field.name] for field in fields(EditResult)}
    for name, mode in IMAGE_MODES.items():
        values[name] = Image.open(io.BytesIO(base64.b64decode(data[name]))).convert(mode)
    return EditResult(**values)


def _lines(response: http.client.HTTPResponse) -> Iterator[dict]:
    for line in response:
        if line.strip():
            yield json.loads(line)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _reason(error: object) -> str:
    return str(error).strip().rstrip(".") or type(error).__name__
