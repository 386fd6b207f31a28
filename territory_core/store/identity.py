"""Who is saving: the signed-in user (Streamlit OIDC), else a trusted SSO proxy header, else the
local OS user. Never blank.

Pages call ``current_user(st.context.headers, st.user if st.user.is_logged_in else None,
server_address=st.get_option("server.address"))``; the trusted header's name comes from the
deployment (env ``TERRITORY_TRUSTED_USER_HEADER``, e.g. ``X-Forwarded-Email`` behind oauth2-proxy).
Only name a header that your proxy always sets and strips from client requests, otherwise anyone
can claim any name. The header is honoured only when the server listens on loopback alone, so the
only clients are on the same host (the proxy); :func:`trusted_header_problem` says why not otherwise.
"""
from __future__ import annotations

import getpass
import ipaddress
import os
import re
from typing import Mapping

ENV_HEADER = "TERRITORY_TRUSTED_USER_HEADER"
FALLBACK_USER = "local user"
_CTRL = re.compile(r"[\x00-\x1f\x7f]+")


def clean_user(value, *, default: str | None = None) -> str:
    """A user name fit for an audit column: printable, trimmed, at most 200 characters, never blank
    (falls back to ``default`` or the OS user)."""
    s = _CTRL.sub(" ", str(value if value is not None else "")).strip()[:200].strip()
    if s:
        return s
    return default if default else os_user()


def os_user() -> str:
    for get in (getpass.getuser, lambda: os.environ.get("USER") or os.environ.get("USERNAME") or ""):
        try:
            s = _CTRL.sub(" ", get() or "").strip()
        except Exception:  # no passwd entry in a container, etc.
            s = ""
        if s:
            return s[:200]
    return FALLBACK_USER


def _get(mapping: Mapping | None, key: str):
    if not mapping:
        return None
    try:
        if key in mapping:
            return mapping[key]
    except TypeError:
        pass
    low = key.lower()
    try:
        for k in mapping.keys():
            if str(k).lower() == low:
                return mapping[k]
    except (AttributeError, TypeError):
        pass
    try:
        return mapping.get(key)  # e.g. st.user / header objects with a case-insensitive get
    except Exception:
        return None


def is_loopback(address) -> bool:
    """True when a server bound to ``address`` is reachable from this host only (127.0.0.0/8,
    ::1, localhost). An empty address (Streamlit's default) means every interface: False."""
    a = str(address or "").strip().strip("[]").lower()
    if a == "localhost":
        return True
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False


def trusted_header_problem(header: str | None, server_address) -> str | None:
    """Why the trusted-header mode cannot be used with this server address (None when it can, or
    when no header is configured)."""
    header = (header or "").strip()
    if not header or is_loopback(server_address):
        return None
    where = f"on {server_address}" if str(server_address or "").strip() else "on every network interface"
    return (f"{ENV_HEADER} is set ({header}), but the server listens {where}, so any client could send "
            f"that header and be recorded as anyone. The header is trusted only behind a proxy on the same "
            "host: start the app with --server.address 127.0.0.1 (scripts/run.sh does by default) and let "
            f"the proxy set {header}; or unset {ENV_HEADER} and use the built-in sign-in (README, "
            "\"Running it for a team\").")


def current_user(headers: Mapping | None = None, oidc_user: Mapping | None = None,
                 trusted_header: str | None = None, *, server_address=None) -> str:
    """The user to record on a save.

    1. ``oidc_user`` (e.g. ``st.user``) when logged in: its ``email``, else ``name``, else ``sub``
       (``is_logged_in`` False means not signed in);
    2. else the request header named by ``trusted_header`` (default: env
       ``TERRITORY_TRUSTED_USER_HEADER``; looked up case-insensitively in ``headers``), only when
       ``server_address`` is loopback (:func:`is_loopback`): otherwise a client could forge it;
    3. else the OS user name. Never blank.
    """
    if oidc_user:
        logged = _get(oidc_user, "is_logged_in")
        if logged is None or bool(logged):
            for key in ("email", "name", "preferred_username", "sub"):
                v = _get(oidc_user, key)
                if v is not None and _CTRL.sub(" ", str(v)).strip():
                    return clean_user(v)
    header = trusted_header if trusted_header is not None else os.environ.get(ENV_HEADER, "")
    header = (header or "").strip()
    if header and headers and is_loopback(server_address):
        v = _get(headers, header)
        if isinstance(v, (list, tuple)):
            v = v[0] if v else None
        if v is not None and _CTRL.sub(" ", str(v)).strip():
            return clean_user(v)
    return os_user()
