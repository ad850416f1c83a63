"""The app in a real browser: start `streamlit run` on a free loopback port, then upload a
synthetic scene, ask for an edit, watch the image change, undo, see the original again, and
download it.

Playwright for Python drives Debian's Chromium (`apt-get install chromium`; no browser
download). Screenshots of every step are saved under test-artifacts/.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from editor.demo.world import Scene, Shape, render_image

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
EDIT_TIMEOUT_MS = 180_000  # one edit on a busy 2-core CPU
expect.set_options(timeout=60_000)  # the first page loads the model


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; install Debian's browser: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    """The app, started with `streamlit run` on a tiny model and an empty data folder."""
    folder = tmp_path_factory.mktemp("browser")
    port = _free_port()
    env = {**os.environ, "PIXCHAT_DATA": str(folder / "data"), "HF_HUB_OFFLINE": "1",
           "PIXCHAT_MODEL": str(tiny_model), "PIXCHAT_OWNER": "browser"}
    log = (folder / "streamlit.log").open("w")
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, app, folder / "streamlit.log")
        yield url
    finally:
        app.terminate()
        app.wait(timeout=30)
        log.close()


def test_upload_edit_and_undo_in_a_browser(chromium, app_url, tmp_path):
    scene = render_image(Scene("white", (Shape("circle", "red", 12, 12, 6),
                                         Shape("square", "green", 22, 22, 4))))
    upload = tmp_path / "scene.png"
    scene.save(upload)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(app_url)
        expect(page.get_by_text("Upload an image in the sidebar")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "1-start.png", full_page=True)

        page.locator(".st-key-upload input[type=file]").set_input_files(upload)
        shown = page.locator(".st-key-current_image img")
        expect(shown).to_be_visible()
        original_src = shown.get_attribute("src")
        assert _same_picture(_pixels(page, app_url, original_src), scene)
        page.screenshot(path=ARTIFACTS / "2-uploaded.png", full_page=True)

        page.get_by_test_id("stChatInputTextArea").fill("make the circle blue")
        page.keyboard.press("Enter")
        expect(shown).not_to_have_attribute("src", original_src, timeout=EDIT_TIMEOUT_MS)
        expect(page.get_by_text("Used s_T")).to_be_visible()
        assert not _same_picture(_pixels(page, app_url, shown.get_attribute("src")), scene)
        page.screenshot(path=ARTIFACTS / "3-edited.png", full_page=True)

        page.locator(".st-key-undo button").click()
        expect(shown).to_have_attribute("src", original_src)
        assert _same_picture(_pixels(page, app_url, shown.get_attribute("src")), scene)
        expect(page.locator(".st-key-redo button")).to_be_enabled()
        page.screenshot(path=ARTIFACTS / "4-undone.png", full_page=True)

        with page.expect_download() as download:
            page.get_by_role("button", name="Download PNG").click()
        downloaded = Image.open(download.value.path())
        assert downloaded.format == "PNG" and downloaded.size == scene.size  # full size
        assert np.array_equal(np.asarray(downloaded.convert("RGB")), np.asarray(scene))
        browser.close()


def _pixels(page, app_url: str, src: str) -> np.ndarray:
    """The pixels of the image the page shows at `src`."""
    response = page.request.get(src if src.startswith("http") else app_url + src)
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"))


def _same_picture(pixels: np.ndarray, image: Image.Image) -> bool:
    """Whether `pixels` are `image` enlarged pixel-sharp (how the app shows small images)."""
    factor = pixels.shape[0] // image.height
    enlarged = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    return np.array_equal(pixels, np.asarray(enlarged))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(url: str, app: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.poll() is not None:
            pytest.fail(f"streamlit exited with {app.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"streamlit did not answer within {timeout:g} s:\n{log.read_text()}")
