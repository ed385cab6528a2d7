"""Fixtures of the browser tests: a live stack (backend simulator, action server, Rasa server
with the socket.io and web chat channels) and Debian's headless Chromium driven by Selenium.

The tests are skipped, with the reason, when Chromium, its driver, Selenium or the trained
model is missing; `make test-browser` installs Chromium and trains the model first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "helpdesk.tar.gz"
CHROMIUM = Path(os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))

#: Flags that let Chromium run headless as root on a machine with a closed network.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=id-ID",
)


def _require_browser() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "(`make test-browser` does, as root)"
        )
    pytest.importorskip("selenium", reason="selenium is not installed (requirements-dev.txt)")


#: The Rasa server's channels, as in credentials.yml: REST, the socket.io channel with working
#: sessions, and the web chat page.
CREDENTIALS = """connectors.rest.RestInput:
connectors.webchat.SocketIOInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
connectors.webchat.WebChatInput:
"""


@pytest.fixture(scope="session")
def browser_prerequisites() -> None:
    """Skip (with the reason) without Chromium, its driver, Selenium or the trained model."""
    _require_browser()
    if not MODEL.is_file():
        pytest.skip(f"no trained model at {MODEL}: run `make train`")


@pytest.fixture(scope="session")
def stack(browser_prerequisites) -> Iterator[object]:
    """The assistant on free ports in a temporary directory (see tests/support/stack.py)."""
    from tests.support.stack import Stack

    with Stack(rasa=True, credentials=CREDENTIALS) as running:
        yield running


@pytest.fixture(scope="session")
def driver(browser_prerequisites) -> Iterator[object]:
    """One headless Chromium (fresh profile) for the session; tests set their own viewport."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="webchat-chromium-")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,800")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Where screenshots go: $WEBCHAT_SCREENSHOT_DIR when set, else a pytest temp folder."""
    configured = os.environ.get("WEBCHAT_SCREENSHOT_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
