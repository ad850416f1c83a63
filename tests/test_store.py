"""The session store's operations, on SQLite and on a real PostgreSQL server.

PostgreSQL runs where PIXCHAT_TEST_PG_URL names a server (`.ci/run` starts one); each test
gets a schema of its own there. Without it those tests skip, except under CI, where they
fail: CI must exercise PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from PIL import Image
from sqlalchemy import create_engine, make_url, text

from memory import Forbidden, InvalidArchive, NotFound, SessionStore, StoreError, to_json
from memory.blobs import sha256_hex
from memory.database import HEAD_REVISION, MIGRATIONS, upgrade_schema
from memory.models import Base, NodeRow, SessionRow, utc_now
from memory.store import new_session_id

OWNER = "alice"


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


ORIGINAL, WINTER, MORE_SNOW, HAT = (png_bytes(c) for c in [(10, 20, 30), (200, 200, 255),
                                                            (240, 240, 255), (90, 60, 30)])


def mask_bytes(box: tuple[int, int, int, int], size: tuple[int, int] = (24, 16),
               mode: str = "L") -> bytes:
    """An edit mask: white inside `box` (left, top, right, bottom), black elsewhere."""
    mask = Image.new(mode, size, 0)
    mask.paste(255 if mode == "L" else (255, 255, 255), box)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


HAT_MASK, SKY_MASK = mask_bytes((8, 0, 16, 6)), mask_bytes((0, 0, 24, 8))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections work in a fresh, empty schema of the test PostgreSQL server."""
    base_url = os.environ.get("PIXCHAT_TEST_PG_URL")
    if not base_url:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: set PIXCHAT_TEST_PG_URL.")
        pytest.skip("no PostgreSQL server: set PIXCHAT_TEST_PG_URL to run these tests")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[SessionStore]:
    store = SessionStore(database_url, tmp_path / "data")
    yield store
    store.close()


@pytest.fixture(params=["files", "table"])
def any_blob_store(request: pytest.FixtureRequest, database_url: str, tmp_path: Path):
    store = SessionStore(database_url, tmp_path / "data", blobs=request.param)
    yield store
    store.close()


def stored_image_count(store: SessionStore) -> int:
    """Distinct images kept by the store, in files or in the blobs table."""
    files = list((store.data_dir / "images").glob("*/*/*.png"))
    engine = create_engine(store.url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM blobs")).scalar_one()
    engine.dispose()
    return len(files) + rows


# --- sessions --------------------------------------------------------------------------


def test_new_session_starts_at_the_upload(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL, title="  Holiday  ")

    assert session.title == "Holiday"
    assert session.root_id == session.head_id
    assert session.node_count == 1
    history = store.history(OWNER, session.id)
    [root] = history.nodes
    assert (root.parent_id, root.width, root.height) == (None, 24, 16)
    assert root.image_sha256 == sha256_hex(ORIGINAL)
    assert store.node_image(OWNER, session.id) == ORIGINAL


def test_session_ids_are_unguessable(store: SessionStore) -> None:
    ids = {store.create_session(OWNER, ORIGINAL).id for _ in range(5)}
    assert len(ids) == 5
    assert all(len(session_id) >= 20 for session_id in ids)


def test_session_ids_never_look_like_command_line_options() -> None:
    # an id starting with "-" made `pixchat revert ID STEP` fail to parse (1 in 64 sessions)
    ids = [new_session_id() for _ in range(2000)]
    assert all(session_id[0].isalnum() and session_id.isalnum() for session_id in ids)


def test_sessions_are_listed_per_owner_newest_first(store: SessionStore) -> None:
    first = store.create_session(OWNER, ORIGINAL, title="first")
    second = store.create_session(OWNER, ORIGINAL, title="second")
    store.create_session("bob", ORIGINAL, title="bob's")
    store.commit_edit(OWNER, first.id, first.root_id, WINTER)

    listed = store.list_sessions(OWNER)

    assert [(s.title, s.node_count) for s in listed] == [("first", 2), ("second", 1)]
    assert second.id in {s.id for s in listed}
    assert [s.title for s in store.list_sessions("bob")] == ["bob's"]


def test_rename_changes_the_title(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    assert session.title == "Untitled"

    renamed = store.rename(OWNER, session.id, "Snowy street")

    assert renamed.title == "Snowy street"
    assert store.get_session(OWNER, session.id).title == "Snowy street"
    with pytest.raises(StoreError, match="at most 200 characters"):
        store.rename(OWNER, session.id, "x" * 201)


def test_delete_removes_the_session_and_its_images(store: SessionStore) -> None:
    kept = store.create_session(OWNER, ORIGINAL)
    doomed = store.create_session(OWNER, ORIGINAL)
    store.commit_edit(OWNER, doomed.id, doomed.root_id, HAT)
    store.add_message(OWNER, doomed.id, "user", "add a hat")

    removed = store.delete_session(OWNER, doomed.id)

    assert removed == 1  # the hat; the original is still used by the other session
    assert [s.id for s in store.list_sessions(OWNER)] == [kept.id]
    assert store.node_image(OWNER, kept.id) == ORIGINAL
    with pytest.raises(NotFound):
        store.history(OWNER, doomed.id)


# --- the edit tree ---------------------------------------------------------------------


def test_commit_records_the_edit_and_moves_the_head(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)

    node = store.commit_edit(
        OWNER, session.id, session.root_id, WINTER,
        chat_text="make it a snowy winter scene", instruction="make it winter",
        text_scale=7.5, image_scale=1.2, seed=2**40, steps=20, scheduler="euler_a",
        model_id="timbrooks/instruct-pix2pix", metrics={"drift": 0.12, "ssim": 0.8},
        timings={"edit_s": 3.5},
    )

    history = store.history(OWNER, session.id)
    assert history.session.head_id == node.id
    assert history.head_path == [session.root_id, node.id]
    stored = history.nodes[1]
    assert stored == node
    assert stored.params.instruction == "make it winter"
    assert stored.params.chat_text == "make it a snowy winter scene"
    assert (stored.params.text_scale, stored.params.image_scale) == (7.5, 1.2)
    assert (stored.params.seed, stored.params.steps) == (2**40, 20)
    assert stored.params.model_id == "timbrooks/instruct-pix2pix"
    assert stored.params.metrics == {"drift": 0.12, "ssim": 0.8}
    assert stored.params.timings == {"edit_s": 3.5}
    assert store.node_image(OWNER, session.id) == WINTER
    assert store.node_image(OWNER, session.id, session.root_id) == ORIGINAL


def test_undo_and_redo_walk_the_branch_and_say_so_at_the_ends(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER, instruction="winter")
    snow = store.commit_edit(OWNER, session.id, winter.id, MORE_SNOW, instruction="more snow")

    assert store.undo(OWNER, session.id).node.id == winter.id
    back_to_root = store.undo(OWNER, session.id)
    assert (back_to_root.node.id, back_to_root.moved) == (session.root_id, True)
    at_root = store.undo(OWNER, session.id)
    assert (at_root.node.id, at_root.moved) == (session.root_id, False)
    assert "Nothing to undo" in at_root.message

    assert store.redo(OWNER, session.id).node.id == winter.id
    assert store.redo(OWNER, session.id).node.id == snow.id
    at_leaf = store.redo(OWNER, session.id)
    assert (at_leaf.node.id, at_leaf.moved) == (snow.id, False)
    assert "Nothing to redo" in at_leaf.message
    assert store.node_image(OWNER, session.id) == MORE_SNOW


def test_an_edit_after_undo_starts_a_branch_and_keeps_the_old_one(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER)
    snow = store.commit_edit(OWNER, session.id, winter.id, MORE_SNOW)
    store.undo(OWNER, session.id)

    hat = store.commit_edit(OWNER, session.id, winter.id, HAT)

    history = store.history(OWNER, session.id)
    assert [child.id for child in history.children[winter.id]] == [snow.id, hat.id]
    assert history.head_path == [session.root_id, winter.id, hat.id]
    store.undo(OWNER, session.id)
    assert store.redo(OWNER, session.id).node.id == hat.id  # the branch visited last
    assert store.node_image(OWNER, session.id, snow.id) == MORE_SNOW


def test_revert_and_reset_move_the_head_and_redo_retraces_the_way(store: SessionStore) -> None:
    # root ─ a ─ b ─ c, and a second branch root ─ a ─ d
    session = store.create_session(OWNER, ORIGINAL)
    a = store.commit_edit(OWNER, session.id, session.root_id, png_bytes((1, 0, 0)))
    b = store.commit_edit(OWNER, session.id, a.id, png_bytes((2, 0, 0)))
    c = store.commit_edit(OWNER, session.id, b.id, png_bytes((3, 0, 0)))
    d = store.commit_edit(OWNER, session.id, a.id, png_bytes((4, 0, 0)))

    reverted = store.revert(OWNER, session.id, c.id)
    assert (reverted.node.id, reverted.moved) == (c.id, True)
    assert store.history(OWNER, session.id).head_path == [session.root_id, a.id, b.id, c.id]
    assert store.revert(OWNER, session.id, c.id).moved is False

    reset = store.reset(OWNER, session.id)
    assert reset.node.id == session.root_id
    assert store.node_image(OWNER, session.id) == ORIGINAL
    # Redo retraces the way to c, the node visited last, not to d, the newest edit.
    assert [store.redo(OWNER, session.id).node.id for _ in range(3)] == [a.id, b.id, c.id]
    assert store.reset(OWNER, session.id).moved is True
    assert store.reset(OWNER, session.id).moved is False
    assert len(store.history(OWNER, session.id).nodes) == 5  # nothing was ever deleted
    assert d.parent_id == a.id


def test_undo_goes_back_to_the_image_shown_before_not_to_the_tree_parent(
    store: SessionStore,
) -> None:
    # "make it winter", then "a bit less": a sibling of the first attempt, shown after it.
    session = store.create_session(OWNER, ORIGINAL)
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER)
    less = store.commit_edit(OWNER, session.id, session.root_id, MORE_SNOW)

    assert store.undo(OWNER, session.id).node.id == winter.id
    assert store.undo(OWNER, session.id).node.id == session.root_id
    assert store.undo(OWNER, session.id).moved is False
    assert store.redo(OWNER, session.id).node.id == winter.id
    assert store.redo(OWNER, session.id).node.id == less.id

    # A revert is one more image shown: undo returns to where the person was.
    store.revert(OWNER, session.id, session.root_id)
    assert store.undo(OWNER, session.id).node.id == less.id
    # Steps keep their numbers; the tree is unchanged.
    history = store.history(OWNER, session.id)
    assert [node.id for node in history.nodes] == [session.root_id, winter.id, less.id]
    assert history.step_of(less.id) == 2


def test_an_edit_after_undo_drops_the_images_ahead_from_redo(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER)
    less = store.commit_edit(OWNER, session.id, session.root_id, MORE_SNOW)
    store.undo(OWNER, session.id)
    hat = store.commit_edit(OWNER, session.id, winter.id, HAT)

    assert store.redo(OWNER, session.id).moved is False
    assert [store.undo(OWNER, session.id).node.id for _ in range(2)] == [winter.id,
                                                                         session.root_id]
    assert store.node_image(OWNER, session.id, less.id) == MORE_SNOW  # kept in the tree
    assert hat.parent_id == winter.id


def test_an_imported_session_undoes_along_its_tree(store: SessionStore, tmp_path) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER)
    store.commit_edit(OWNER, session.id, session.root_id, MORE_SNOW)
    copy = store.import_session(OWNER, store.export_session(OWNER, session.id,
                                                            tmp_path / "s.zip"))
    assert store.undo(OWNER, copy.id).node.id == copy.root_id  # nothing shown: the parent
    assert store.redo(OWNER, copy.id).node.params == store.history(
        OWNER, session.id).nodes[2].params
    assert winter.parent_id == session.root_id


def test_history_has_every_node_parents_first(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    parent = session.root_id
    for shade in range(1, 6):
        parent = store.commit_edit(OWNER, session.id, parent, png_bytes((shade, 0, 0))).id
    store.revert(OWNER, session.id, session.root_id + 2)

    history = store.history(OWNER, session.id)

    assert len(history.nodes) == history.session.node_count == 6
    seen: set[int] = set()
    for node in history.nodes:
        assert node.parent_id is None or node.parent_id in seen
        seen.add(node.id)
    assert history.head_path == [n.id for n in history.nodes[:3]]
    dumped = json.loads(to_json(history))
    assert set(dumped) == {"session", "nodes", "head_path"}
    assert dumped["nodes"][1]["params"]["instruction"] == ""


# --- transcript ------------------------------------------------------------------------


def test_transcript_keeps_messages_in_order(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER)

    store.add_message(OWNER, session.id, "user", "make it winter")
    store.add_message(OWNER, session.id, "assistant", "Made it winter.", node_id=winter.id)

    messages = store.messages(OWNER, session.id)
    assert [(m.role, m.text, m.node_id) for m in messages] == [
        ("user", "make it winter", None), ("assistant", "Made it winter.", winter.id)]
    other = store.create_session(OWNER, ORIGINAL)
    with pytest.raises(NotFound, match="has no node"):
        store.add_message(OWNER, other.id, "assistant", "wrong session", node_id=winter.id)


# --- owners and unknown ids ------------------------------------------------------------


def test_every_operation_refuses_another_owners_session(store: SessionStore, tmp_path) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER)
    intruder = "mallory"
    operations = [
        lambda: store.get_session(intruder, session.id),
        lambda: store.history(intruder, session.id),
        lambda: store.node_image(intruder, session.id),
        lambda: store.commit_edit(intruder, session.id, winter.id, HAT),
        lambda: store.undo(intruder, session.id),
        lambda: store.redo(intruder, session.id),
        lambda: store.revert(intruder, session.id, session.root_id),
        lambda: store.reset(intruder, session.id),
        lambda: store.rename(intruder, session.id, "mine now"),
        lambda: store.add_message(intruder, session.id, "user", "hi"),
        lambda: store.messages(intruder, session.id),
        lambda: store.export_session(intruder, session.id, tmp_path / "stolen.zip"),
        lambda: store.delete_session(intruder, session.id),
    ]
    for operation in operations:
        with pytest.raises(Forbidden, match="belongs to another owner"):
            operation()

    history = store.history(OWNER, session.id)
    assert (history.session.title, history.session.head_id) == ("Untitled", winter.id)
    assert len(history.nodes) == 2 and store.messages(OWNER, session.id) == []
    assert not (tmp_path / "stolen.zip").exists()


def test_unknown_session_and_node_are_one_clear_sentence(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)

    with pytest.raises(NotFound) as unknown_session:
        store.undo(OWNER, "no-such-session")
    assert str(unknown_session.value) == "There is no session 'no-such-session'; check the id."
    with pytest.raises(NotFound, match=r"has no node 999999; see its history\.$"):
        store.revert(OWNER, session.id, 999_999)
    with pytest.raises(NotFound, match="has no node"):
        store.commit_edit(OWNER, session.id, 999_999, WINTER)
    assert len(store.history(OWNER, session.id).nodes) == 1


@pytest.mark.parametrize("session_id", ["../../etc/passwd", "' OR '1'='1", "%", "", "\x00",
                                        "x" * 1000])
def test_a_session_id_that_is_a_path_or_sql_is_refused(store: SessionStore, session_id) -> None:
    store.create_session(OWNER, ORIGINAL)
    with pytest.raises(NotFound, match=r"is not a session id; use one that pixchat sessions "
                                       r"lists\.$"):
        store.history(OWNER, session_id)


def test_text_no_database_can_keep_is_one_sentence_and_stores_nothing(store: SessionStore):
    session = store.create_session(OWNER, ORIGINAL)
    with pytest.raises(StoreError, match=r"^The database refused a value \(text that is not "
                                         r"UTF-8\); nothing was changed\.$"):
        store.add_message(OWNER, session.id, "user", "make it \udcff darker")
    with pytest.raises(StoreError, match="nothing was changed"):
        store.commit_edit(OWNER, session.id, session.root_id, WINTER, chat_text="\ud800")
    assert store.messages(OWNER, session.id) == []
    assert len(store.history(OWNER, session.id).nodes) == 1


# --- images ----------------------------------------------------------------------------


def test_identical_images_are_stored_once(any_blob_store: SessionStore) -> None:
    store = any_blob_store
    first = store.create_session(OWNER, ORIGINAL)
    store.create_session(OWNER, ORIGINAL)
    node = store.commit_edit(OWNER, first.id, first.root_id, WINTER)
    store.commit_edit(OWNER, first.id, node.id, WINTER)  # an edit that changed nothing

    assert stored_image_count(store) == 2
    assert store.node_image(OWNER, first.id) == WINTER


def test_deleting_and_garbage_collection_remove_only_unused_images(
    any_blob_store: SessionStore,
) -> None:
    store = any_blob_store
    kept = store.create_session(OWNER, ORIGINAL)
    store.commit_edit(OWNER, kept.id, kept.root_id, WINTER)
    doomed = store.create_session(OWNER, ORIGINAL)
    store.commit_edit(OWNER, doomed.id, doomed.root_id, HAT)
    store.commit_edit(OWNER, doomed.id, doomed.root_id, MORE_SNOW)

    assert store.delete_session(OWNER, doomed.id) == 2
    assert store.collect_garbage() == 0
    assert stored_image_count(store) == 2
    history = store.history(OWNER, kept.id)
    assert [store.node_image(OWNER, kept.id, n.id) for n in history.nodes] == [ORIGINAL, WINTER]


# --- edit masks ------------------------------------------------------------------------


def test_an_edit_keeps_its_mask_and_the_original_has_none(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    hat = store.commit_edit(OWNER, session.id, session.root_id, HAT, mask_png=HAT_MASK,
                            instruction="add a hat")
    unmasked = store.commit_edit(OWNER, session.id, hat.id, WINTER, instruction="winter")

    assert hat.mask_sha256 == sha256_hex(HAT_MASK) and hat.params.instruction == "add a hat"
    assert store.node_mask(OWNER, session.id, hat.id) == HAT_MASK
    assert store.node_mask(OWNER, session.id) is None  # the head, committed without one
    assert store.node_mask(OWNER, session.id, session.root_id) is None
    root, stored_hat, stored_unmasked = store.history(OWNER, session.id).nodes
    assert (root.mask_sha256, stored_hat.mask_sha256, stored_unmasked.mask_sha256) == (
        None, sha256_hex(HAT_MASK), None)
    assert unmasked.mask_sha256 is None
    store.undo(OWNER, session.id)
    assert store.node_mask(OWNER, session.id) == HAT_MASK
    dumped = json.loads(to_json(store.history(OWNER, session.id)))
    assert [node["mask_sha256"] for node in dumped["nodes"]] == [None, sha256_hex(HAT_MASK), None]
    with pytest.raises(Forbidden):
        store.node_mask("mallory", session.id, hat.id)


def test_a_mask_that_does_not_fit_its_image_is_refused_and_nothing_is_stored(
    store: SessionStore,
) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    cases = {
        mask_bytes((0, 0, 4, 4), size=(12, 8)):
            r"^The edit mask is a L PNG of 12×8, not a greyscale \(L\) one of its image's size, "
            r"24×16; nothing was stored\.$",
        mask_bytes((0, 0, 4, 4), mode="RGB"): "is a RGB PNG of 24×16, not a greyscale",
        b"not a png": r"^The edit mask is not a PNG image; nothing was stored\.$",
    }
    for mask, problem in cases.items():
        with pytest.raises(StoreError, match=problem):
            store.commit_edit(OWNER, session.id, session.root_id, HAT, mask_png=mask)

    history = store.history(OWNER, session.id)
    assert len(history.nodes) == 1 and history.session.head_id == session.root_id
    assert stored_image_count(store) == 1


def test_masks_are_stored_once_and_kept_until_their_nodes_go(any_blob_store: SessionStore):
    store = any_blob_store
    kept = store.create_session(OWNER, ORIGINAL)
    store.commit_edit(OWNER, kept.id, kept.root_id, HAT, mask_png=HAT_MASK)
    doomed = store.create_session(OWNER, ORIGINAL)
    store.commit_edit(OWNER, doomed.id, doomed.root_id, HAT, mask_png=HAT_MASK)
    store.commit_edit(OWNER, doomed.id, doomed.root_id, WINTER, mask_png=SKY_MASK)
    assert stored_image_count(store) == 5  # original, hat, winter and the two masks

    assert store.collect_garbage() == 0
    assert store.delete_session(OWNER, doomed.id) == 2  # winter and its sky mask

    assert store.collect_garbage() == 0
    assert store.node_mask(OWNER, kept.id) == HAT_MASK
    assert store.node_image(OWNER, kept.id) == HAT


# --- export and import -----------------------------------------------------------------


def test_export_then_import_gives_an_equal_session(store: SessionStore, tmp_path) -> None:
    session = store.create_session(OWNER, ORIGINAL, title="Street")
    winter = store.commit_edit(OWNER, session.id, session.root_id, WINTER, mask_png=SKY_MASK,
                               instruction="winter", text_scale=7.5, image_scale=1.5, seed=3)
    store.commit_edit(OWNER, session.id, winter.id, MORE_SNOW, instruction="more snow")
    store.undo(OWNER, session.id)
    store.commit_edit(OWNER, session.id, winter.id, WINTER, instruction="same again")
    store.add_message(OWNER, session.id, "user", "make it winter")
    store.add_message(OWNER, session.id, "assistant", "Done.", node_id=winter.id)
    before = store.history(OWNER, session.id)

    archive = store.export_session(OWNER, session.id, tmp_path / "street.zip")
    with zipfile.ZipFile(archive) as zip_file:
        names = set(zip_file.namelist())
        manifest = json.loads(zip_file.read("history.json"))
    assert names == {"history.json"} | {f"images/{sha256_hex(png)}.png"
                                        for png in (ORIGINAL, WINTER, MORE_SNOW, SKY_MASK)}
    assert manifest["history"]["nodes"][1]["params"]["text_scale"] == 7.5
    assert manifest["history"]["nodes"][1]["mask_sha256"] == sha256_hex(SKY_MASK)

    imported = store.import_session("bob", archive)

    after = store.history("bob", imported.id)
    assert imported.id != session.id and imported.title == "Street (imported)"
    assert after.session.owner == "bob"

    def shape(history):
        """The tree with ids replaced by positions, which an import must keep."""
        position = {node.id: index for index, node in enumerate(history.nodes)}
        nodes = [(position.get(node.parent_id), position.get(node.redo_child_id),
                  node.image_sha256, node.mask_sha256, node.params) for node in history.nodes]
        return nodes, [position[node_id] for node_id in history.head_path]

    assert shape(after) == shape(before)
    assert [(m.role, m.text) for m in store.messages("bob", imported.id)] == [
        ("user", "make it winter"), ("assistant", "Done.")]
    assert store.node_image("bob", imported.id) == WINTER
    assert store.undo("bob", imported.id).node.image_sha256 == sha256_hex(WINTER)
    assert store.node_mask("bob", imported.id) == SKY_MASK


def test_an_archive_from_before_masks_still_imports(store: SessionStore, tmp_path) -> None:
    session = store.create_session(OWNER, ORIGINAL, title="Old")
    store.commit_edit(OWNER, session.id, session.root_id, WINTER, instruction="winter")
    archive = store.export_session(OWNER, session.id, tmp_path / "new.zip")
    old = tmp_path / "old.zip"
    with zipfile.ZipFile(archive) as new_zip, zipfile.ZipFile(old, "w") as old_zip:
        for name in new_zip.namelist():
            data = new_zip.read(name)
            if name == "history.json":  # as pixchat wrote it before nodes had masks
                manifest = json.loads(data)
                for node in manifest["history"]["nodes"]:
                    del node["mask_sha256"]
                data = json.dumps(manifest).encode()
            old_zip.writestr(name, data)

    imported = store.import_session(OWNER, old)

    nodes = store.history(OWNER, imported.id).nodes
    assert [node.mask_sha256 for node in nodes] == [None, None]
    assert store.node_image(OWNER, imported.id) == WINTER
    assert store.node_mask(OWNER, imported.id) is None


def test_an_imported_title_is_marked_once_and_fits(store: SessionStore, tmp_path) -> None:
    source = store.create_session(OWNER, ORIGINAL, title="x" * 200)
    copy = store.import_session(OWNER, store.export_session(OWNER, source.id, tmp_path / "a.zip"))
    assert copy.title == "x" * 189 + " (imported)"
    again = store.import_session(OWNER, store.export_session(OWNER, copy.id, tmp_path / "b.zip"))
    assert again.title == copy.title


def test_import_refuses_damaged_archives_and_stores_nothing(store: SessionStore, tmp_path) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    store.commit_edit(OWNER, session.id, session.root_id, WINTER, mask_png=SKY_MASK)
    good = store.export_session(OWNER, session.id, tmp_path / "good.zip")
    with zipfile.ZipFile(good) as zip_file:
        members = {name: zip_file.read(name) for name in zip_file.namelist()}

    def archive(name: str, replace: dict[str, bytes | None]) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as zip_file:
            for member, data in (members | replace).items():
                if data is not None:
                    zip_file.writestr(member, data)
        return path

    winter_member = f"images/{sha256_hex(WINTER)}.png"
    mask_member = f"images/{sha256_hex(SKY_MASK)}.png"
    manifest = json.loads(members["history.json"])
    manifest["history"]["nodes"].reverse()
    wrong_mask = json.loads(members["history.json"])
    wrong_mask["history"]["nodes"][1]["mask_sha256"] = sha256_hex(HAT)  # an RGB image
    cases = {
        (tmp_path / "notes.zip"): "not a readable zip file",
        archive("no-history.zip", {"history.json": None}): "has no history.json",
        archive("bad-json.zip", {"history.json": b"{"}): "damaged history.json",
        archive("missing.zip", {winter_member: None}): "lacks images/",
        archive("tampered.zip", {winter_member: HAT}): "its hash differs",
        archive("no-mask.zip", {mask_member: None}): f"lacks {mask_member}",
        archive("bad-mask.zip", {mask_member: HAT_MASK}): "its hash differs",
        archive("rgb-mask.zip", {"history.json": json.dumps(wrong_mask).encode(),
                                 f"images/{sha256_hex(HAT)}.png": HAT}):
            "rgb-mask.zip holds an edit mask that is a RGB PNG of 24×16, not a greyscale",
        archive("order.zip", {"history.json": json.dumps(manifest).encode()}):
            "does not start with the original image",
    }
    (tmp_path / "notes.zip").write_text("not a zip")
    for path, problem in cases.items():
        with pytest.raises(InvalidArchive, match=problem):
            store.import_session(OWNER, path)

    def refuse(png: bytes) -> None:
        raise StoreError("refused by the upload checks")

    with pytest.raises(StoreError, match="refused by the upload checks"):
        store.import_session(OWNER, good, check_image=refuse)
    assert [s.id for s in store.list_sessions(OWNER)] == [session.id]


def test_export_to_an_unwritable_place_is_one_clear_sentence(store: SessionStore, tmp_path):
    session = store.create_session(OWNER, ORIGINAL)
    with pytest.raises(StoreError, match="^Cannot write .*; choose a writable place.$"):
        store.export_session(OWNER, session.id, tmp_path / "missing-folder" / "s.zip")


# --- concurrency -----------------------------------------------------------------------

COMMIT_LOOP = """
import io, sys
from PIL import Image
from memory import SessionStore
url, data_dir, session_id, worker = sys.argv[1:]
store = SessionStore(url, data_dir)
for i in range(100):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (int(worker), i, 0)).save(buffer, format="PNG")
    head = store.get_session("alice", session_id).head_id
    store.commit_edit("alice", session_id, head, buffer.getvalue(), instruction=f"{worker}-{i}")
"""


def test_two_processes_committing_at_once_lose_nothing(store: SessionStore) -> None:
    session = store.create_session(OWNER, ORIGINAL)
    workers = [
        subprocess.Popen([sys.executable, "-c", COMMIT_LOOP, store.url, str(store.data_dir),
                          session.id, str(worker)], stderr=subprocess.PIPE, text=True)
        for worker in (1, 2)
    ]
    for worker in workers:
        _, errors = worker.communicate(timeout=300)
        assert worker.returncode == 0, errors

    history = store.history(OWNER, session.id)
    assert len(history.nodes) == 201
    instructions = [node.params.instruction for node in history.nodes[1:]]
    for worker in (1, 2):
        # each worker's commits, all present and in the order it made them
        assert [i for i in instructions if i.startswith(f"{worker}-")] == [
            f"{worker}-{i}" for i in range(100)]
    ids = {node.id for node in history.nodes}
    assert all(node.parent_id in ids for node in history.nodes[1:])
    assert history.head_path[0] == session.root_id and history.head_path[-1] in ids
    for node in history.nodes[::20]:
        assert sha256_hex(store.node_image(OWNER, session.id, node.id)) == node.image_sha256


# --- schema ----------------------------------------------------------------------------


def test_opening_creates_or_upgrades_the_schema_to_the_newest_migration(
    database_url: str, tmp_path: Path
) -> None:
    first = SessionStore(database_url, tmp_path / "data")
    session = first.create_session(OWNER, ORIGINAL)
    first.close()

    reopened = SessionStore(database_url, tmp_path / "data")

    assert reopened.history(OWNER, session.id).nodes[0].image_sha256 == sha256_hex(ORIGINAL)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        newest = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert context.get_current_revision() == newest == HEAD_REVISION
        # The migrations build exactly the tables the models describe.
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
    reopened.close()


def test_a_database_from_before_masks_upgrades_and_keeps_its_nodes(
    database_url: str, tmp_path: Path
) -> None:
    # A database as pixchat made it at migration 0001: a session of two nodes.
    engine = create_engine(database_url)
    upgrade_schema(engine, "0001")
    with engine.begin() as connection:
        connection.execute(SessionRow.__table__.insert().values(
            id="old", owner=OWNER, title="Old", created_at=utc_now(), updated_at=utc_now(),
            version=1))
        ids: list[int | None] = [None]
        for png in (ORIGINAL, WINTER):
            inserted = connection.execute(NodeRow.__table__.insert().values(
                session_id="old", parent_id=ids[-1], image_sha256=sha256_hex(png), width=24,
                height=16, created_at=utc_now(), chat_text="", instruction="", metrics={},
                timings={}))
            ids.append(inserted.inserted_primary_key[0])
            connection.execute(text("INSERT INTO blobs (sha256, data) VALUES (:sha256, :data)"),
                               {"sha256": sha256_hex(png), "data": png})
        connection.execute(SessionRow.__table__.update().values(root_id=ids[1], head_id=ids[2]))
    engine.dispose()

    store = SessionStore(database_url, tmp_path / "data", blobs="table")

    history = store.history(OWNER, "old")
    assert [(node.id, node.parent_id, node.mask_sha256) for node in history.nodes] == [
        (ids[1], None, None), (ids[2], ids[1], None)]
    assert store.node_image(OWNER, "old") == WINTER and store.node_mask(OWNER, "old") is None
    hat = store.commit_edit(OWNER, "old", ids[2], HAT, mask_png=HAT_MASK)
    assert store.node_mask(OWNER, "old", hat.id) == HAT_MASK
    # No image was shown before the upgrade: undo walks the tree up, redo comes back down.
    assert [store.undo(OWNER, "old").node.id for _ in range(2)] == [ids[2], ids[1]]
    assert [store.redo(OWNER, "old").node.id for _ in range(2)] == [ids[2], hat.id]
    store.close()


def test_sqlite_in_the_data_folder_is_the_default_and_runs_in_wal_mode(tmp_path: Path) -> None:
    store = SessionStore(None, tmp_path)
    store.create_session(OWNER, ORIGINAL)
    with create_engine(store.url).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert store.url == f"sqlite:///{tmp_path / 'pixchat.db'}"
    store.close()


def test_a_bad_database_url_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is not a database URL pixchat can use"):
        SessionStore("nonsense://", tmp_path)
    with pytest.raises(StoreError) as unreachable:
        SessionStore("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    assert str(unreachable.value).startswith("Cannot open the database postgresql")
    assert str(unreachable.value).endswith("; check --db or PIXCHAT_DB.")
    assert "\n" not in str(unreachable.value)
