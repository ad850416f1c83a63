"""The editor as a Ray Serve deployment, reached through `RemoteEditor`: the same pictures as
the editor in the process, progress step by step, cancelling, batching, and a lost
connection that fails in one sentence without a half-written node.

One local Ray cluster on loopback (2 CPUs, no dashboard) and one Serve application with one
replica of the embedded demo model are started once for the module.
"""

import http.server
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from agent.cli import main
from agent.interpret import load_interpreter
from agent.turn import Agent, run_turn
from editor import Cancelled, EditorError, EditRequest
from editor.demo import world
from editor.embedded import open_model
from editor.images import to_png_bytes
from editor.remote import RemoteEditor
from memory import SessionStore

SCENE = world.render_image(world.Scene("white", (world.Shape("circle", "red", 9, 9, 6),
                                                  world.Shape("square", "green", 22, 22, 6))))
ROOT = Path(__file__).resolve().parent.parent
STEPS = 4
BATCH_WAIT_S = 0.5  # long enough for two requests sent together to meet in one batch of 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def service_url():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves the machine
    import ray
    from ray import serve

    from editor.serve import EditorDeployment

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False,
             log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(EditorDeployment.bind(model="demo", threads=1, max_batch_size=2,
                                        batch_wait_s=BATCH_WAIT_S),
                  name="editor", route_prefix="/editor")
        yield f"http://127.0.0.1:{port}/editor"
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def local_editor():
    return open_model("demo")


def pixels(image):
    return np.asarray(image, dtype=np.int16)


def request(instruction="make the circle blue", seed=3, **options):
    return EditRequest(SCENE, instruction, seed=seed, **{"steps": STEPS, **options})


def test_remote_edit_is_the_in_process_edit(service_url, local_editor):
    remote = RemoteEditor(service_url)
    assert remote.defaults == local_editor.defaults
    steps = []
    here = local_editor.edit(request(confine=True))
    there = remote.edit(request(confine=True, on_step=lambda step, total: steps.append(step)))
    assert steps == list(range(1, STEPS + 1))
    assert (there.seed, there.steps, there.model_id) == (3, STEPS, here.model_id)
    for name in ("image", "seen", "mask"):
        assert np.array_equal(pixels(getattr(there, name)), pixels(getattr(here, name))), name
    assert remote.repertoire_for(SCENE) == local_editor.repertoire_for(SCENE)


def test_remote_grid_is_the_in_process_grid(service_url, local_editor):
    here = local_editor.grid(request(), [1.0, 2.0], [1.5])
    there = RemoteEditor(service_url).grid(request(), [1.0, 2.0], [1.5])
    assert [[cell.text_scale for cell in row] for row in there.results] == [[1.0], [2.0]]
    assert np.array_equal(pixels(there.sheet), pixels(here.sheet))


def test_requests_sent_together_run_as_one_batch(service_url, local_editor):
    """Two people's edits (other instructions, other seeds) share one denoising batch, and
    each gets the picture it would get alone, to within float rounding (≤ 2/255)."""
    asks = [request("make the circle blue", seed=1), request("make the background yellow", 2)]
    with ThreadPoolExecutor(2) as pool:
        there = list(pool.map(RemoteEditor(service_url).edit, asks))
    assert there[0].timings["denoise"] == there[1].timings["denoise"]  # the same UNet calls
    for remote, ask in zip(there, asks, strict=True):
        alone = local_editor.edit(ask)
        assert np.abs(pixels(remote.image) - pixels(alone.image)).max() <= 2
    assert np.abs(pixels(there[0].image) - pixels(there[1].image)).max() > 50


def test_cancelling_stops_the_work_on_the_replica(service_url):
    """A client that stops at step 2 of a 2,000-step edit (half a minute of work here) frees
    the replica: the next edit, which waits for the batch before it, is back in seconds."""
    remote = RemoteEditor(service_url)
    with pytest.raises(Cancelled, match="cancelled at step 2"):
        remote.edit(request(steps=2000, on_step=lambda step, total: step < 2))
    start = time.perf_counter()
    assert remote.edit(request()).steps == STEPS
    assert time.perf_counter() - start < 15


def test_a_chat_turn_through_the_service_stores_the_in_process_image(service_url,
                                                                       local_editor, tmp_path):
    images = []
    for editor, folder in ((local_editor, "here"), (RemoteEditor(service_url), "there")):
        store = SessionStore(None, tmp_path / folder)
        agent = Agent(store, editor, load_interpreter("rules", editor.defaults), owner="ann",
                      steps=STEPS, seed=5)
        session = store.create_session("ann", to_png_bytes(SCENE), "scene").id
        result = run_turn(agent, session, "make the circle blue")
        assert result.changed
        images.append(store.node_image("ann", session, result.node_id))
    assert images[0] == images[1]  # the stored PNG bytes


def test_the_app_edits_on_the_service(service_url, tmp_path, monkeypatch):
    """A chat turn in the app (Streamlit's AppTest) runs on the service, and says so."""
    monkeypatch.setenv("PIXCHAT_EDITOR_URL", service_url)
    monkeypatch.setenv("PIXCHAT_DATA", str(tmp_path))
    store = SessionStore(None, tmp_path)
    session = store.create_session("local", to_png_bytes(SCENE), "scene")
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    app.number_input(key="steps").set_value(STEPS).run()
    assert any(service_url in caption.value for caption in app.sidebar.caption)

    app.chat_input(key="chat").set_value("make the circle blue").run()

    assert not app.exception and not app.error
    head = store.history("local", session.id).session.head_id
    assert head != session.root_id
    store.close()


class DropsMidEdit(http.server.BaseHTTPRequestHandler):
    """A service that answers /info, then hangs up every edit after one step."""

    edits = 0

    def do_GET(self):
        self._send({"model_id": "demo", "device": "cpu", "defaults": {
            "text_scale": 1.5, "image_scale": 1.5, "steps": STEPS, "size": 32}})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.endswith("/repertoire"):
            return self._send(None)
        type(self).edits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", "1000")  # promises more than it sends
        self.end_headers()
        self.wfile.write(b'{"step": 1, "total": 4}\n')

    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_a_lost_connection_is_retried_once_then_one_sentence_and_no_node(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr("editor.remote.RETRY_AFTER_S", 0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DropsMidEdit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        editor = RemoteEditor(url)
        store = SessionStore(None, tmp_path)
        agent = Agent(store, editor, load_interpreter("rules", editor.defaults), owner="ann")
        session = store.create_session("ann", to_png_bytes(SCENE), "scene").id
        with pytest.raises(EditorError, match="stopped answering mid-edit.*nothing was changed"):
            run_turn(agent, session, "make the circle blue")
        assert DropsMidEdit.edits == 2  # the first try and one retry
        assert len(store.history("ann", session).nodes) == 1  # only the original
    finally:
        server.shutdown()


def test_the_deploy_config_is_a_serve_config_for_this_deployment():
    import yaml
    from ray import serve
    from ray.serve.schema import ServeDeploySchema

    from editor.serve import EditorDeployment, build_app

    config = ServeDeploySchema.model_validate(
        yaml.safe_load((ROOT / "deploy" / "serve.yaml").read_text()))
    [application] = config.applications
    assert application.import_path == "editor.serve:build_app"
    [deployment] = application.deployments
    assert deployment.name == EditorDeployment.name  # its replicas and actor options apply
    assert isinstance(build_app(application.args), serve.Application)


def test_cli_without_a_service_says_so_in_one_sentence(tmp_path, capsys):
    SCENE.save(tmp_path / "scene.png")
    url = f"http://127.0.0.1:{free_port()}"
    code = main(["--data", str(tmp_path), "--editor-url", url,
                 "edit", str(tmp_path / "scene.png"), "make the circle blue"])
    assert code == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: No editor service answers at {url}")
    assert error.count("\n") == 1
