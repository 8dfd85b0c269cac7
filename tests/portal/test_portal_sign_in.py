"""The portal's first screen in a browser: load clean under its CSP, create a wallet and
download its keystore, sign in with it (and with the CLI's admin keystore), switch
language, by keyboard at 375 px; no key or password in any request."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.test_served import Served
from tests.portal.conftest import EN, ZH, Watched
from wallets.identity import Identity
from wallets.keystore import ENCRYPTION_KEY_FILE, SIGNING_KEY_FILE, decrypt_signing_key

PASSWORD = "correct horse battery"


def create_wallet(portal: Watched, tmp_path: Path, password: str = PASSWORD) -> Path:
    """A wallet made in the browser, both of its files downloaded into one folder (as
    the CLI keeps a wallet); the signing keystore's path."""
    page = portal.page
    page.get_by_label(ZH["signin.create.password"]).fill(password)
    page.get_by_label(ZH["signin.create.confirm"]).fill(password)
    page.get_by_role("button", name=ZH["signin.create.submit"]).click()
    folder = tmp_path / "browser-wallet"
    folder.mkdir(exist_ok=True)
    for label in ("signin.create.download", "signin.create.download_key"):
        link = page.get_by_role("link", name=ZH[label])
        link.wait_for(timeout=60_000)
        with page.expect_download() as download:
            link.click()
        download.value.save_as(folder / download.value.suggested_filename)
    return folder / SIGNING_KEY_FILE


def sign_in(portal: Watched, keystore: Path, password: str) -> str:
    page = portal.page
    page.get_by_label(ZH["signin.keystore"]).set_input_files(str(keystore))
    page.get_by_label(ZH["signin.password"], exact=True).fill(password)
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    address = page.locator("#session-address")
    address.wait_for(timeout=90_000)
    return str(address.inner_text())


def test_the_portal_loads_clean_under_a_strict_csp(portal: Watched) -> None:
    answer = portal.open()
    assert answer is not None and answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    page = portal.page
    assert page.locator("h1").inner_text() == ZH["app.title"]
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    portal.assert_fits_a_phone()
    portal.axe("sign-in")
    portal.screenshot("sign-in-zh")
    portal.assert_clean()


def test_a_new_wallet_downloads_reloads_and_signs_in_without_its_key_leaving(
    portal: Watched, tmp_path: Path
) -> None:
    portal.open()
    keystore = create_wallet(portal, tmp_path)
    portal.assert_fits_a_phone()
    portal.screenshot("wallet-created")
    # scrypt took its time with a moving progress bar, then the bar went away.
    assert len(set(portal.progress_seen(ZH["progress.encrypting"]))) > 1
    assert portal.page.locator("progress").count() == 0
    document = json.loads(keystore.read_text())
    key = decrypt_signing_key(document, PASSWORD)  # the CLI's reader opens the browser's file
    address = "0x" + document["address"]
    # ... and the whole folder is a wallet the CLI loads, its encryption key the owner's.
    loaded = Identity.load(keystore.parent, PASSWORD)
    assert loaded.address.lower() == address.lower()
    assert (keystore.parent / ENCRYPTION_KEY_FILE).exists()

    portal.page.reload()
    shown = sign_in(portal, keystore, PASSWORD)
    assert shown.lower() == address.lower()
    assert portal.page.locator("#session-roles").inner_text() == ZH["session.no_roles"]
    portal.axe("session")
    portal.assert_fits_a_phone()
    portal.screenshot("session-new-wallet")
    portal.assert_clean()

    sent = [r for r in portal.requests if r["url"].startswith(portal.url)]
    assert any(r["url"].endswith("/auth/token") and shown in r["body"] for r in sent)
    secrets = [
        key.hex(),
        PASSWORD,
        json.dumps(PASSWORD)[1:-1],
        {k.lower(): v for k, v in document.items()}["crypto"]["ciphertext"],
    ]
    for request in portal.requests:
        everything = (request["url"] + json.dumps(request["headers"]) + request["body"]).lower()
        for secret in secrets:
            assert secret.lower() not in everything, request["url"]


def test_the_clis_admin_keystore_signs_in_and_shows_its_role(
    portal: Watched, served: Served
) -> None:
    password = (served.data_dir / "admin.password").read_text().strip()
    portal.open()
    page = portal.page
    page.get_by_label(ZH["signin.keystore"]).set_input_files(
        str(served.data_dir / "admin" / "signing-key.json")
    )
    page.get_by_label(ZH["signin.password"], exact=True).fill(password)
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    shown = page.locator("#session-address")
    shown.wait_for(timeout=90_000)
    assert shown.inner_text() == served.admin().address
    assert portal.progress_seen(ZH["progress.decrypting"])
    assert ZH["role.admin"] in portal.page.locator("#session-roles").inner_text()
    portal.page.get_by_role("button", name=ZH["session.signout"]).click()
    portal.page.get_by_role("button", name=ZH["signin.submit"], exact=True).wait_for()
    portal.assert_clean()


def test_a_wrong_password_is_said_in_words(portal: Watched, served: Served) -> None:
    portal.open()
    page = portal.page
    page.get_by_label(ZH["signin.keystore"]).set_input_files(
        str(served.data_dir / "admin" / "signing-key.json")
    )
    page.get_by_label(ZH["signin.password"], exact=True).fill("not the password")
    page.get_by_role("button", name=ZH["signin.submit"], exact=True).click()
    page.get_by_role("alert").filter(has_text=ZH["error.wrong_password"]).wait_for(timeout=90_000)
    assert not any(r["url"].endswith("/auth/challenge") for r in portal.requests)


def test_english_by_keyboard_and_remembered(portal: Watched) -> None:
    portal.open()
    page = portal.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "language"
    page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == EN["app.title"]
    assert page.evaluate("document.documentElement.lang") == "en"
    page.reload()
    assert page.locator("h1").inner_text() == EN["app.title"]
    # Every control reached by Tab, in order, with its label.
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert reached[:7] == [
        "language",
        "keystore",
        "password",
        "BUTTON",
        "new-password",
        "new-password-again",
        "BUTTON",
    ]
    page.get_by_label(EN["signin.create.password"]).fill("short")
    page.keyboard.press("Enter")
    page.get_by_role("alert").filter(has_text=EN["error.password_short"]).wait_for()
    portal.axe("sign-in-en")
    portal.screenshot("sign-in-en")
    page.get_by_role("button", name=EN["lang.label"]).click()
    assert page.locator("h1").inner_text() == ZH["app.title"]
    portal.assert_clean()
