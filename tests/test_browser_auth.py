"""Sign-in in a real browser: Streamlit's OIDC login against a fake identity provider
(oidc-provider-mock, on localhost), roles from a roles file, and the saved scenario recording the
signed-in user. The test writes its own secrets file; nothing secret is committed."""
from __future__ import annotations

import secrets

import pytest

from conftest import _free_port, serve_app, shot, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def idp():
    mock = pytest.importorskip("oidc_provider_mock")
    with mock.run_server_in_thread(port=_free_port()) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory, idp):
    work = tmp_path_factory.mktemp("auth")
    port = _free_port()
    secrets_file = work / "secrets.toml"
    secrets_file.write_text(f"""[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "territory-modeler"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{idp}/.well-known/openid-configuration"
""")
    roles = work / "roles.toml"
    roles.write_text('default = "viewer"\n\n[users]\n"ana@example.com" = "planner"\n')
    db = work / "auth.db"
    with serve_app(work, port=port, extra_args=["--secrets.files", str(secrets_file)],
                   env={"TERRITORY_ROLES": str(roles), "TERRITORY_DB_URL": f"sqlite:///{db}",
                        "TERRITORY_TEST_DB_URL": None, "TERRITORY_TRUSTED_USER_HEADER": None}):
        # the cookie is set for the redirect_uri's host name: open the app as localhost
        yield f"http://localhost:{port}", f"sqlite:///{db}"


def _visible_text(locator) -> str:
    """Text as read (ui.format.md puts an invisible word joiner before '@' against auto-links)."""
    return locator.inner_text().replace("\u2060", "")


def _wait_text(page, locator, text: str) -> None:
    for _ in range(60):
        if text in _visible_text(locator):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"{text!r} not shown in: {_visible_text(locator)[:500]}")


def _sign_in(page, app, email: str) -> None:
    # The fake identity provider's own page asks a CDN for a stylesheet: answer it here (the app
    # itself never leaves localhost; every other request still goes through the guard).
    page.route("https://cdn.jsdelivr.net/**", lambda r: r.fulfill(status=200, content_type="text/css", body=""))
    page.goto(app)
    wait_idle(page)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('input[name="sub"]', timeout=30_000)
    page.fill('input[name="sub"]', email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app}/**", timeout=30_000)
    wait_idle(page)


def test_sign_in_with_the_identity_provider_and_save_as_that_user(page, signed_app):
    from territory_core.store.storage import ScenarioStore

    app, db_url = signed_app
    page.goto(app)
    wait_idle(page)
    # nobody gets a page before signing in
    assert page.get_by_role("button", name="Sign in").is_visible()
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    shot(page, "auth_sign_in", full=False)

    _sign_in(page, app, "ana@example.com")
    sidebar = page.locator('[data-testid="stSidebar"]')
    _wait_text(page, sidebar, "ana@example.com · planner")
    assert sidebar.get_by_role("button", name="Log out").is_visible()

    page.goto(f"{app}/scenario_editor")
    wait_idle(page)
    page.get_by_role("tab", name="Save & history").click()
    main = page.locator('[data-testid="stMain"]')
    _wait_text(page, main, "Saving as ana@example.com")
    box = page.get_by_label("Scenario name")
    box.fill("Signed-in plan")
    box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Save", exact=True).click()
    wait_idle(page)
    _wait_text(page, main, "version 1 by ana@example.com")
    shot(page, "auth_saved", full=False)
    store = ScenarioStore(db_url)
    try:
        listed = store.list_scenarios()
        assert list(listed["name"]) == ["Signed-in plan"]
        assert store.load(listed["id"].iloc[0]).saved_by == "ana@example.com"
    finally:
        store.close()


def test_an_unlisted_user_signs_in_as_a_viewer_and_cannot_save(page, signed_app):
    app, _ = signed_app
    _sign_in(page, app, "eve@example.com")
    _wait_text(page, page.locator('[data-testid="stSidebar"]'), "eve@example.com · viewer")
    page.goto(f"{app}/scenario_editor")
    wait_idle(page)
    page.get_by_role("tab", name="Save & history").click()
    page.get_by_text("which cannot save scenarios").first.wait_for(timeout=30_000)
    assert page.get_by_role("button", name="Save", exact=True).is_disabled()
    shot(page, "auth_viewer", full=False)
