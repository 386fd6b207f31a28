"""Who is using the app and what their role allows (Streamlit side of territory_core.store.access
and identity): the sign-in gate, the user's role, and the reason a button is disabled.

- Sign-in: when ``.streamlit/secrets.toml`` (or ``--secrets.files``) has an ``[auth]`` section, every
  visitor signs in with Streamlit's OIDC login (``st.login``) before any page runs.
- The trusted-header mode (``TERRITORY_TRUSTED_USER_HEADER``) runs only when the server listens on
  loopback; otherwise every page shows why and stops.
- Roles: ``TERRITORY_ROLES`` or ``.streamlit/roles.toml``; a file that cannot be read stops the app
  with the reason (never "everyone may do everything").
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import streamlit as st

from territory_core.store.access import Access, RolesError, load_roles, resolve_access, roles_path
from territory_core.store.identity import ENV_HEADER, current_user, trusted_header_problem
from ui.format import md

ROOT = Path(__file__).resolve().parent.parent
_log = logging.getLogger("territory.access")
_logged: set[str] = set()


def auth_configured() -> bool:
    """True when the secrets have an [auth] section (Streamlit's OIDC sign-in)."""
    try:
        return bool(st.secrets.load_if_toml_exists()) and "auth" in st.secrets
    except Exception:  # unreadable secrets: Streamlit reports them itself; no sign-in configured
        return False


def signed_in() -> bool:
    try:
        return bool(st.user.get("is_logged_in"))
    except Exception:
        return False


def needs_sign_in() -> bool:
    """Sign-in is configured and this visitor has not signed in yet."""
    return auth_configured() and not signed_in()


def user_name() -> str:
    """Who is using the app: the signed-in user, else the trusted proxy header (loopback servers
    only), else the OS user. See territory_core.store.identity.current_user."""
    oidc = None
    if signed_in():
        try:
            oidc = st.user.to_dict()
        except Exception:
            oidc = None
    try:
        headers = dict(st.context.headers)
    except Exception:
        headers = None
    return current_user(headers, oidc, os.environ.get(ENV_HEADER) or None,
                        server_address=st.get_option("server.address"))


def current_access() -> Access:
    """The user's role for this run (raises RolesError when the roles file cannot be used)."""
    path = roles_path(ROOT)
    return resolve_access(user_name(), load_roles(path) if path is not None else None)


def refusal(action: str) -> str | None:
    """Why the current user may not ``action`` ("save" or "export"), or None. Pages disable the
    button with this as its help; the core refuses too (access=... on save and export)."""
    try:
        return current_access().refusal(action)
    except RolesError as exc:
        return str(exc)


def _stop_with(message: str) -> None:
    if message not in _logged:  # once per server process in the log, on every visit on the page
        _logged.add(message)
        _log.error(message)
        print(f"Territory Modeler: {message}", file=sys.stderr, flush=True)
    st.error(md(message), icon=":material/block:")  # quotes user names from the roles file
    st.stop()


def gate() -> Access:
    """Run before any page: stop with a clear message when the trusted-header mode is unsafe, the
    visitor has not signed in (sign-in configured), or the roles file is broken; else the access."""
    problem = trusted_header_problem(os.environ.get(ENV_HEADER), st.get_option("server.address"))
    if problem:
        _stop_with("The app will not run in trusted-header mode: " + problem)
    if needs_sign_in():
        st.title("Territory Modeler")
        st.markdown("Sign in to plan territories with your team.")
        st.button("Sign in", type="primary", key="auth_login", on_click=st.login, icon=":material/login:")
        st.stop()
    try:
        return current_access()
    except RolesError as exc:
        _stop_with(f"The roles file cannot be used, so nobody gets in until it is fixed: {exc}")
        raise  # not reached: st.stop() raises


def sidebar(access: Access) -> None:
    """Who is signed in, with which role, and a log-out button when signed in."""
    what = {"viewer": "viewer: can look, not save or export owner files",
            "planner": "planner", "admin": "admin",
            "manager": f"manager: sees the team of {md(access.manager)}"}.get(access.role, md(access.role))
    st.caption(f"{md(access.user)} · {what}")
    if signed_in():
        st.button("Log out", key="auth_logout", on_click=st.logout, icon=":material/logout:")
