"""The session commands of `pixchat`, run as a person would, against a SQLite store."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from agent.cli import main
from memory import SessionStore


@pytest.fixture
def pixchat(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """Run `pixchat ARGS` on a data folder of its own; returns (exit code, stdout, stderr)."""

    def run(*args: str | Path, owner: str = "alice") -> tuple[int, str, str]:
        code = main(["--data", str(tmp_path / "data"), "--owner", owner, *map(str, args)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def write_image(path: Path, size=(40, 30), colour=(200, 40, 40), **save_options) -> Path:
    Image.new("RGB", size, colour).save(path, **save_options)
    return path


def new_session(pixchat, image: Path, *options: str) -> str:
    code, out, _ = pixchat("new", image, *options)
    assert code == 0
    return out.splitlines()[-1]


def test_a_whole_session_from_the_command_line(pixchat, tmp_path: Path) -> None:
    photo = write_image(tmp_path / "street.jpg", size=(64, 48))
    session_id = new_session(pixchat, photo, "--title", "Street")
    store = SessionStore(None, tmp_path / "data")
    root = store.get_session("alice", session_id).root_id
    winter_png = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(winter_png, format="PNG")
    store.commit_edit("alice", session_id, root, winter_png.getvalue(),
                      instruction="make it winter", text_scale=7.5, image_scale=1.5)

    code, out, _ = pixchat("sessions", "--json")
    [listed] = json.loads(out)
    assert (listed["id"], listed["title"], listed["node_count"]) == (session_id, "Street", 2)

    assert pixchat("undo", session_id)[1] == "Now at step 0: the original image.\n"
    assert "Nothing to undo" in pixchat("undo", session_id)[1]
    assert pixchat("redo", session_id)[1] == "Now at step 1: 'make it winter'.\n"
    assert "Nothing to redo" in pixchat("redo", session_id)[1]
    assert pixchat("reset", session_id)[1] == "Now at step 0: the original image.\n"
    assert pixchat("revert", session_id, 1)[1] == "Now at step 1: 'make it winter'.\n"

    code, out, _ = pixchat("show", session_id, "--step", 0, "--out", tmp_path / "before.png")
    assert code == 0
    with Image.open(tmp_path / "before.png") as before:
        assert (before.format, before.size) == ("PNG", (64, 48))
        red, green, blue = before.getpixel((0, 0))
        assert abs(red - 200) + abs(green - 40) + abs(blue - 40) <= 6  # JPEG is lossy
    assert pixchat("show", session_id, "--out", tmp_path / "now.png")[0] == 0
    assert (tmp_path / "now.png").read_bytes() == winter_png.getvalue()

    assert pixchat("export", session_id, tmp_path / "street.zip")[0] == 0
    code, out, _ = pixchat("import", tmp_path / "street.zip", owner="bob")
    copy_id = out.splitlines()[-1]
    assert json.loads(pixchat("history", copy_id, "--json", owner="bob")[1])["session"][
        "node_count"] == 2

    assert pixchat("rename", session_id, "Snowy street")[0] == 0
    code, out, _ = pixchat("delete", session_id)
    assert (code, out) == (0, f"Deleted session {session_id} and 0 image files no other "
                              "session uses.\n")  # bob's copy still uses both images
    assert json.loads(pixchat("sessions", "--json")[1]) == []
    assert pixchat("delete", copy_id, owner="bob")[1].endswith("and 2 image files no other "
                                                                  "session uses.\n")
    assert pixchat("gc")[1] == "Removed 0 image files that no session uses.\n"
    assert list((tmp_path / "data" / "images").glob("*/*/*.png")) == []


def test_new_prints_the_id_alone_on_its_last_line(pixchat, tmp_path: Path) -> None:
    code, out, err = pixchat("new", write_image(tmp_path / "cat.png"))

    *_, last = out.splitlines()
    assert (code, err) == (0, "")
    assert last.strip() == last and " " not in last and len(last) >= 20
    assert json.loads(pixchat("sessions", "--json")[1])[0]["title"] == "cat"


def test_new_keeps_the_upright_original_at_full_size(pixchat, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; show rotated 90° clockwise
    photo = write_image(tmp_path / "portrait.jpg", size=(1200, 900), exif=exif.tobytes())

    session_id = new_session(pixchat, photo)

    [node] = json.loads(pixchat("history", session_id, "--json")[1])["nodes"]
    assert (node["width"], node["height"]) == (900, 1200)
    pixchat("show", session_id, "--out", tmp_path / "stored.png")
    with Image.open(tmp_path / "stored.png") as stored:
        assert (stored.format, stored.size) == ("PNG", (900, 1200))


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header but holds almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"these are holiday notes, not a picture", "is not an image pixchat can read"),
        (truncated_png(), "is damaged or cut short"),
        (b"", "is empty"),
        (png_header(1, 1), "is only 1×1 pixels"),
        (png_header(8_000, 6_000), "above the 40 MP limit"),
    ],
    ids=["not-an-image", "truncated", "empty", "1x1", "decompression-bomb"],
)
def test_an_unusable_image_is_refused_and_nothing_is_written(
    pixchat, tmp_path: Path, content: bytes, problem: str
) -> None:
    upload = tmp_path / "upload.png"
    upload.write_bytes(content)

    code, out, err = pixchat("new", upload)

    assert code == 1 and out == ""
    assert err.startswith("error: upload.png ") and problem in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "data").exists()


def test_unknown_ids_and_other_owners_are_one_clear_sentence(pixchat, tmp_path: Path) -> None:
    session_id = new_session(pixchat, write_image(tmp_path / "cat.png"))

    assert pixchat("undo", "nope") == (1, "", "error: There is no session 'nope'; check the id.\n")
    code, _, err = pixchat("revert", session_id, "12345")
    assert (code, err) == (1, "error: There is no step 12345; this session has steps 0–0 (0 is "
                              "the original).\n")
    for command in (["history", session_id], ["undo", session_id], ["delete", session_id],
                    ["show", session_id, "--out", tmp_path / "x.png"]):
        code, out, err = pixchat(*command, owner="mallory")
        assert (code, out) == (1, "")
        assert err == (f"error: Session '{session_id}' belongs to another owner; act as that "
                       "owner or choose one of your own sessions.\n")
    assert len(json.loads(pixchat("sessions", "--json")[1])) == 1
    assert not (tmp_path / "x.png").exists()


def test_show_refuses_a_file_name_that_is_not_png(pixchat, tmp_path: Path) -> None:
    session_id = new_session(pixchat, write_image(tmp_path / "cat.png"))
    with pytest.raises(SystemExit) as usage_error:
        pixchat("show", session_id, "--out", tmp_path / "cat.jpg")
    assert usage_error.value.code == 2
    assert not (tmp_path / "cat.jpg").exists()


def test_history_draws_the_tree_and_marks_the_way_to_the_head(pixchat, tmp_path: Path) -> None:
    session_id = new_session(pixchat, write_image(tmp_path / "cat.png", size=(32, 32)))
    store = SessionStore(None, tmp_path / "data")
    root = store.get_session("alice", session_id).root_id

    def edit(parent: int, colour: str, instruction: str) -> int:
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
        return store.commit_edit("alice", session_id, parent, buffer.getvalue(),
                                 instruction=instruction, text_scale=7.5, image_scale=1.5,
                                 seed=42).id

    winter = edit(root, "white", "make it winter")
    edit(winter, "snow", "more snow")
    edit(winter, "brown", "add a hat")

    code, out, _ = pixchat("history", session_id)

    # Lines are numbered by step, as "go back to step 2" counts them.
    assert out.splitlines() == [
        "cat: 4 images (* marks the way to the current image)",
        "* 0  original 32×32",
        "* 1  'make it winter'  s_T 7.5  s_I 1.5  seed 42",
        "  ├─ 2  'more snow'  s_T 7.5  s_I 1.5  seed 42",
        "* └─ 3  'add a hat'  s_T 7.5  s_I 1.5  seed 42  ← head",
    ]


def test_history_writes_scales_with_two_decimals_and_seeds_whole(pixchat, tmp_path: Path) -> None:
    session_id = new_session(pixchat, write_image(tmp_path / "cat.png", size=(32, 32)))
    store = SessionStore(None, tmp_path / "data")
    root = store.get_session("alice", session_id).root_id
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(buffer, format="PNG")
    store.commit_edit("alice", session_id, root, buffer.getvalue(), instruction="less",
                      text_scale=1.2749999, image_scale=1.8, seed=1_723_630_112)

    code, out, _ = pixchat("history", session_id)

    assert code == 0
    assert out.splitlines()[-1] == "* 1  'less'  s_T 1.27  s_I 1.8  seed 1723630112  ← head"
