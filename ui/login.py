"""Who is using the app: the owner of the sessions a browser tab sees.

`--login` (or `PIXCHAT_LOGIN`) names where the person's identity comes from:

- `none` (the default): everyone is `--owner`, for one person on their own machine;
- `oidc`: Streamlit's own login (`st.login`) with the OpenID Connect provider configured in
  `.streamlit/secrets.toml`; the owner is the `email` claim of `st.user` (else `sub`);
- `header:NAME`: a reverse proxy in front of the app authenticates people and sets the
  request header NAME (e.g. `header:X-Forwarded-Email`); the owner is its value, read from
  `st.context.headers`. Trust it only when the app can be reached through that proxy alone.

`--serve-many` (or `PIXCHAT_MULTI_USER=1`) marks a deployment that serves several people;
it refuses to run with `none`, so that nobody sees another person's sessions.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from .config import AppConfig

HEADER_PREFIX = "header:"


class LoginMissing(Exception):
    """The app cannot tell who is using it; the message says what to do."""


def check_login_setting(login: str, serve_many: bool) -> None:
    """Refuse settings that cannot name the person; raises `LoginMissing`."""
    if login != "none" and login != "oidc" and not (
            login.startswith(HEADER_PREFIX) and login.removeprefix(HEADER_PREFIX)):
        raise LoginMissing(f"Unknown login source {login!r}; use none, oidc or "
                           "header:NAME (e.g. header:X-Forwarded-Email).")
    if serve_many and login == "none":
        raise LoginMissing("This app serves several people (--serve-many / "
                           "PIXCHAT_MULTI_USER), so it needs a login: start it with --login "
                           "oidc or --login header:NAME (see deploy/README.md).")


def owner_from_headers(headers: Mapping[str, str], name: str) -> str | None:
    """The identity a trusted proxy put in header `name` (None when it is absent or blank)."""
    value = (headers.get(name) or "").strip()
    return value or None


def current_owner(config: AppConfig) -> str | None:
    """The owner for this tab; None after showing the person how to log in."""
    if config.login == "none":
        return config.owner
    if config.login == "oidc":
        if not st.user.get("is_logged_in"):
            st.title("pixchat")
            st.button("Log in", key="login", on_click=st.login)
            return None
        st.sidebar.button("Log out", key="logout", on_click=st.logout)
        return str(st.user.get("email") or st.user.get("sub"))
    header = config.login.removeprefix(HEADER_PREFIX)
    owner = owner_from_headers(st.context.headers, header)
    if owner is None:
        st.error(f"This app expects the {header} header from its login proxy; open it "
                 "through that proxy's address.")
    return owner
