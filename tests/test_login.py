"""Serving several people: the app's owner comes from a login, and an app marked as serving
many refuses to run without one. Driven by Streamlit's AppTest, which can play a logged-in
`st.user` but cannot send request headers, so the proxy header is checked on its reader.
"""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from editor.demo.world import Scene, Shape, render_image
from editor.images import to_png_bytes
from memory import SessionStore
from ui.login import LoginMissing, check_login_setting, owner_from_headers

SCRIPT = Path(__file__).resolve().parent.parent / "streamlit_app.py"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: Path):
    monkeypatch.setenv("PIXCHAT_MODEL", str(tiny_model))
    monkeypatch.setenv("PIXCHAT_DATA", str(tmp_path))
    store = SessionStore(None, tmp_path)
    scene = to_png_bytes(render_image(Scene("white", (Shape("circle", "red", 12, 12, 6),))))
    store.create_session("ann@example.com", scene, "Ann's scene")
    store.create_session("bob@example.com", scene, "Bob's scene")
    yield store
    store.close()


def session_titles(app: AppTest) -> list[str]:
    return [option.split(" · ")[0] for option in app.selectbox(key="session_id").options]


def test_serving_many_without_a_login_refuses_in_one_sentence(store, monkeypatch):
    monkeypatch.setenv("PIXCHAT_MULTI_USER", "1")
    app = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    assert not app.exception
    [error] = app.error
    assert error.value.startswith("This app serves several people")
    assert "--login oidc" in error.value
    assert not app.selectbox and not app.chat_input  # no sessions, no chat


def test_oidc_login_shows_each_person_only_their_sessions(store, monkeypatch):
    monkeypatch.setenv("PIXCHAT_MULTI_USER", "1")
    monkeypatch.setenv("PIXCHAT_LOGIN", "oidc")
    app = AppTest.from_file(str(SCRIPT), default_timeout=120)
    app.user = {"is_logged_in": False}
    app.run()
    assert [button.label for button in app.button] == ["Log in"]
    assert not app.selectbox

    for person, title in (("ann@example.com", "Ann's scene"), ("bob@example.com", "Bob's scene")):
        app = AppTest.from_file(str(SCRIPT), default_timeout=120)
        app.user = {"is_logged_in": True, "email": person}
        app.run()
        assert not app.exception
        assert session_titles(app) == [title]


def test_proxy_header_is_the_owner_when_present():
    headers = {"X-Forwarded-Email": " ann@example.com "}
    assert owner_from_headers(headers, "X-Forwarded-Email") == "ann@example.com"
    assert owner_from_headers({"X-Forwarded-Email": "  "}, "X-Forwarded-Email") is None
    assert owner_from_headers({}, "X-Forwarded-Email") is None


def test_proxy_login_without_the_header_shows_no_sessions(store, monkeypatch):
    monkeypatch.setenv("PIXCHAT_MULTI_USER", "1")
    monkeypatch.setenv("PIXCHAT_LOGIN", "header:X-Forwarded-Email")
    app = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    [error] = app.error
    assert "expects the X-Forwarded-Email header" in error.value
    assert not app.selectbox


@pytest.mark.parametrize("login", ["header:", "ldap"])
def test_an_unknown_login_source_is_one_sentence(login):
    with pytest.raises(LoginMissing, match="Unknown login source"):
        check_login_setting(login, serve_many=True)
