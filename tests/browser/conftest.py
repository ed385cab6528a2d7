"""Fixtures of the browser tests: a live stack (backend simulator, action server, Rasa server
with the socket.io and web chat channels) and Debian's headless Chromium driven by Selenium.

The tests are skipped, with the reason, when Chromium, its driver, Selenium or the trained
model is missing; `make test-browser` installs Chromium and trains the model first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

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


@dataclass
class KaltimSite:
    """The Kaltim profile's assistant with its desk, a test clock, and the widget's demo page
    served on another port (another origin) that the profile lets embed the chat."""

    stack: Any
    demo_url: str
    clock: Path

    def set_clock(self, moment: str) -> None:
        """Move the assistant's clock (office hours, greetings): an ISO moment with offset."""
        self.clock.write_text(moment, encoding="utf-8")


@pytest.fixture(scope="session")
def kaltim_site(browser_prerequisites, tmp_path_factory) -> Iterator[KaltimSite]:
    from scripts.servers import free_port
    from tests.support.stack import Stack

    clock = tmp_path_factory.mktemp("clock") / "now"
    clock.write_text("2026-12-07T09:00:00+08:00", encoding="utf-8")  # Monday 09.00 WITA
    port = free_port()
    env = {
        "HELPDESK_PROFILE": "kaltim",
        "HELPDESK_TEST_CLOCK_FILE": str(clock),
        "HELPDESK_WIDGET_ORIGINS": f"http://127.0.0.1:{port}",
    }
    with Stack(rasa=True, desk=True, env=env) as running:
        demo = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "widget_demo.py"),
                "--port",
                str(port),
                "--assistant",
                f"{running.rasa_url}/webhooks/webchat/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 15
            while True:
                try:
                    if requests.get(url, timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the widget demo page did not come up")
                time.sleep(0.2)
            yield KaltimSite(running, url, clock)
        finally:
            demo.terminate()
            demo.wait(10)
