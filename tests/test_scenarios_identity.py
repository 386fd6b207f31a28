"""Who saved: OIDC user, else trusted SSO header, else OS user; never blank."""
from __future__ import annotations

import getpass

import pytest

from territory_core.store import identity
from territory_core.store.identity import clean_user, current_user


class FakeStUser(dict):
    """Like st.user: a mapping with is_logged_in."""


def test_oidc_user_wins(monkeypatch):
    monkeypatch.setenv("TERRITORY_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    u = FakeStUser(is_logged_in=True, email="ana@corp.com", name="Ana")
    assert current_user({"X-Forwarded-Email": "proxy@corp.com"}, u, server_address="127.0.0.1") == "ana@corp.com"
    assert current_user(None, FakeStUser(is_logged_in=True, name="Ana Lopez")) == "Ana Lopez"


def test_not_logged_in_falls_through_to_trusted_header(monkeypatch):
    monkeypatch.setenv("TERRITORY_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    headers = {"x-forwarded-email": "bob@corp.com"}  # case-insensitive lookup
    assert current_user(headers, FakeStUser(is_logged_in=False), server_address="127.0.0.1") == "bob@corp.com"
    assert current_user(headers, None, server_address="localhost") == "bob@corp.com"
    # An explicit header name overrides the environment.
    assert current_user({"Remote-User": "carol"}, None, trusted_header="Remote-User", server_address="::1") == "carol"


def test_header_ignored_unless_the_deployment_names_it(monkeypatch):
    monkeypatch.delenv("TERRITORY_TRUSTED_USER_HEADER", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "osuser")
    assert current_user({"X-Forwarded-Email": "mallory@evil.com"}, None) == "osuser"


def test_never_blank(monkeypatch):
    monkeypatch.setenv("TERRITORY_TRUSTED_USER_HEADER", "X-User")
    monkeypatch.setattr(getpass, "getuser", lambda: "osuser")
    assert current_user({"X-User": "   "}, FakeStUser(is_logged_in=True, email=" ", name=""),
                        server_address="127.0.0.1") == "osuser"

    def fail():
        raise OSError("no passwd entry")

    monkeypatch.setattr(getpass, "getuser", fail)
    monkeypatch.setenv("USER", "envuser")
    assert current_user(None, None) == "envuser"
    monkeypatch.delenv("USER")
    monkeypatch.delenv("USERNAME", raising=False)
    assert current_user(None, None) == identity.FALLBACK_USER


@pytest.mark.parametrize("raw, want", [("  ana\n", "ana"), ("a\x00b", "a b"), ("x" * 500, "x" * 200)])
def test_clean_user(raw, want):
    assert clean_user(raw) == want


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "::", "192.168.1.20", "example.com"])
def test_trusted_header_is_forgeable_unless_the_server_listens_on_loopback(monkeypatch, address):
    """Any client can send any header: it names the user only when the only clients are on this
    host (the proxy), i.e. the server is bound to loopback."""
    monkeypatch.setenv("TERRITORY_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(getpass, "getuser", lambda: "osuser")
    assert current_user({"X-Forwarded-Email": "ceo@corp.com"}, None, server_address=address) == "osuser"
    problem = identity.trusted_header_problem("X-Forwarded-Email", address)
    assert problem and "--server.address 127.0.0.1" in problem and "X-Forwarded-Email" in problem


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_trusted_header_counts_on_loopback(monkeypatch, address):
    monkeypatch.setenv("TERRITORY_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    assert current_user({"X-Forwarded-Email": "ana@corp.com"}, None, server_address=address) == "ana@corp.com"
    assert identity.trusted_header_problem("X-Forwarded-Email", address) is None
    assert identity.trusted_header_problem("", "0.0.0.0") is None  # no header mode: nothing to refuse
