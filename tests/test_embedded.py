"""The embedded default picks its model by the picture: flat scenes go to the shapes model,
photographs to the photo model; the app and the command line share that choice."""

from dataclasses import dataclass, field

import pytest
from PIL import Image

from agent.setup import open_editor
from editor import EditRequest, ModelNotFound
from editor.demo import photos, world
from editor.embedded import EmbeddedEditor, embedded_model_for
from editor.models import DEMO_MODEL_DIR, read_repertoire

SCENE = world.render_image(world.Scene("white", (world.Shape("circle", "red", 9, 9, 6),
                                                  world.Shape("square", "green", 22, 22, 6))))


@pytest.mark.parametrize("size, resample", [(32, None), (512, Image.Resampling.NEAREST),
                                            (300, Image.Resampling.LANCZOS)])
def test_a_scene_of_shapes_goes_to_the_shapes_model_at_any_size(size, resample):
    scene = SCENE if resample is None else SCENE.resize((size, size), resample)
    assert embedded_model_for(scene) == "demo"


def test_a_darkened_scene_is_still_a_scene():
    scene = world.render_image(world.Scene("blue", (world.Shape("circle", "red", 9, 9, 6),),
                                           ("darken",)))
    assert embedded_model_for(scene) == "demo"


@pytest.mark.parametrize("photo", [photos.sample_photo, lambda: photos.held_out_photo("china.jpg"),
                                   lambda: photos.held_out_photo("flower.jpg").convert("L")],
                         ids=["cat", "china", "flower-in-grey"])
def test_a_photograph_goes_to_the_photo_model(photo):
    assert embedded_model_for(photo()) == "demo-photo"


@dataclass
class FakeEditor:
    name: str
    repertoire: dict | None = None
    defaults: object = None
    device: str = "cpu"
    edits: list = field(default_factory=list)

    def edit(self, request):
        self.edits.append(request.instruction)
        return self.name


def test_each_request_goes_to_the_model_for_its_picture():
    loaded = {}

    def load(name):
        loaded[name] = FakeEditor(name)
        return loaded[name]

    editor = EmbeddedEditor(load)
    assert list(loaded) == ["demo"]  # the photo model loads on the first photo
    assert editor.edit(EditRequest(SCENE, "make the circle blue")) == "demo"
    assert editor.edit(EditRequest(photos.sample_photo(), "make it warmer")) == "demo-photo"
    assert editor.edit(EditRequest(photos.sample_photo(), "make it sepia")) == "demo-photo"
    assert list(loaded) == ["demo", "demo-photo"]  # loaded once
    assert loaded["demo-photo"].edits == ["make it warmer", "make it sepia"]


def test_without_the_photo_model_photos_go_to_the_shapes_model():
    def load(name):
        if name == "demo-photo":
            raise ModelNotFound("Model 'demo-photo' is missing.")
        return FakeEditor(name)

    editor = EmbeddedEditor(load)
    assert editor.edit(EditRequest(photos.sample_photo(), "make it warmer")) == "demo"


def test_the_app_and_the_cli_open_demo_as_the_pair():
    """Both open editors through `open_editor`; for `demo` it is the embedded pair, whose
    shapes model declares its repertoire."""
    editor = open_editor("demo", warn=print)
    assert isinstance(editor, EmbeddedEditor) and editor.model_id == "demo"
    repertoire = editor.repertoire_for(SCENE)
    assert "remove" in repertoire["kinds"] and "circle" in repertoire["words"]


def test_the_shipped_shapes_model_declares_only_what_it_learned():
    repertoire = read_repertoire(DEMO_MODEL_DIR)
    assert set(repertoire["kinds"]) == {"recolour", "remove", "background", "darken", "brighten"}
    assert "move" not in repertoire["words"]  # never trained, so not offered
