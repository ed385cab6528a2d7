"""The web chat end to end: real headless Chromium, real Rasa server, action server and backend
simulator (tests/support/stack.py), talking over socket.io.

Each test starts from an empty browser storage, so it begins a new conversation.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.browser

SP2D_NUMBER = "260011301000123"
ACCOUNT_NUMBER = "1234567890"
SP2D_SATKER = "KPPN Jakarta II"
MENU_SP2D = "3. Cek SP2D"
#: Phone (a common small Android screen) and desktop viewports.
PHONE = {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True}
DESKTOP = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}
#: The first answers of a fresh Rasa server can take a while (models warming up).
ANSWER_TIMEOUT = 60


# --- helpers ---------------------------------------------------------------------------------
def page_url(stack) -> str:
    return f"{stack.rasa_url}/webhooks/webchat/"


def set_viewport(driver, metrics: dict[str, Any]) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def wait_until(condition, timeout: float = ANSWER_TIMEOUT, message: str = "") -> Any:
    """Poll `condition()` until it returns something truthy; fail with `message` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s: {message}")
        time.sleep(0.1)


def open_fresh(driver, stack) -> None:
    """Open the chat with empty storage (a new visitor) and wait for the greeting."""
    driver.get(f"{stack.rasa_url}/webhooks/webchat/health")  # same origin, no chat running
    driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    driver.get(page_url(stack))
    wait_for_bot(driver, "Silakan pilih layanan", after=0)
    wait_for_status(driver, "Terhubung")


def bot_texts(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#chat-log .msg--bot .msg__bubble'))"
        ".map(e => e.textContent);"
    )


def user_texts(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#chat-log .msg--user .msg__bubble'))"
        ".map(e => e.textContent);"
    )


def wait_for_bot(driver, fragment: str, after: int) -> str:
    """Wait for a bot message containing `fragment` among those after the first `after`."""

    def found() -> str | None:
        return next((t for t in bot_texts(driver)[after:] if fragment in t), None)

    return wait_until(found, message=f"no bot message with {fragment!r}: {bot_texts(driver)}")


def status_text(driver) -> str:
    return driver.find_element("id", "chat-status-text").text


def wait_for_status(driver, label: str, timeout: float = 30) -> None:
    wait_until(
        lambda: status_text(driver) == label,
        timeout,
        f"status {label!r} (is {status_text(driver)!r})",
    )


def watch_typing(driver) -> None:
    """Record in `window.__typingSeen` whether the typing indicator gets shown from now on."""
    driver.execute_script(
        """
        const bubble = document.getElementById('chat-typing-bubble');
        window.__typingSeen = !bubble.hidden;
        new MutationObserver(() => { if (!bubble.hidden) window.__typingSeen = true; })
          .observe(bubble, {attributes: true, attributeFilter: ['hidden']});
        """
    )


def typing_visible(driver) -> bool:
    return driver.find_element("id", "chat-typing-bubble").is_displayed()


def type_message(driver, text: str) -> None:
    """Type `text` in the input and press Enter, as a user would."""
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("id", "chat-input")
    box.click()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def say(driver, text: str, expect: str) -> str:
    """Send `text` and wait for a new bot message containing `expect`."""
    before = len(bot_texts(driver))
    watch_typing(driver)
    type_message(driver, text)
    reply = wait_for_bot(driver, expect, after=before)
    assert driver.execute_script("return window.__typingSeen"), "typing indicator never shown"
    wait_until(lambda: not typing_visible(driver), 5, "typing indicator still shown")
    return reply


def session_id(driver) -> str | None:
    return driver.execute_script("return localStorage.getItem('helpdesk-webchat:session');")


def overflow(driver) -> dict[str, int]:
    """Pixels the page overflows the viewport by (only the message list may scroll)."""
    return driver.execute_script(
        """
        const page = document.documentElement;
        const body = document.querySelector('.chat-body');
        return {
          page_x: page.scrollWidth - page.clientWidth,
          page_y: page.scrollHeight - page.clientHeight,
          log_x: body.scrollWidth - body.clientWidth,
        };
        """
    )


NO_OVERFLOW = {"page_x": 0, "page_y": 0, "log_x": 0}


def severe_console_errors(driver) -> list[str]:
    """Console errors (CSP violations, failed loads, exceptions), but for the favicon that
    Chromium asks for on the JSON health page `open_fresh` visits."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]
    ]


def tracker(stack, sender: str) -> dict[str, Any]:
    reply = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker", timeout=10)
    reply.raise_for_status()
    return reply.json()


# --- tests -----------------------------------------------------------------------------------
def test_sp2d_conversation_on_a_phone(driver, stack, screenshot_dir: Path) -> None:
    set_viewport(driver, PHONE)
    driver.get_log("browser")  # drop earlier entries
    open_fresh(driver, stack)

    assert driver.execute_script("return document.documentElement.lang") == "id"
    assert driver.title == "Helpdesk Layanan Perbendaharaan"  # the profile's name
    greeting = bot_texts(driver)[0]
    assert greeting.startswith("Selamat "), greeting
    assert user_texts(driver) == [], "the hidden greeting payload must not be shown"
    wait_until(
        lambda: driver.execute_script(
            "return window.__webchat.socket.io.engine.transport.name === 'websocket'"
        ),
        10,
        "socket.io never upgraded to a WebSocket (Content-Security-Policy?)",
    )

    say(driver, "menu", "Silakan pilih layanan")
    groups = driver.find_elements("css selector", "#chat-log .chips")
    assert len(groups) == 2, "the greeting's menu and the requested menu"
    menu = groups[-1]
    titles = [chip.text for chip in menu.find_elements("css selector", "button")]
    assert MENU_SP2D in titles, titles

    before = len(bot_texts(driver))
    watch_typing(driver)
    next(c for c in menu.find_elements("css selector", "button") if c.text == MENU_SP2D).click()
    wait_for_bot(driver, "nomor SP2D", after=before)
    assert driver.execute_script("return window.__typingSeen")
    assert user_texts(driver)[-1] == MENU_SP2D, "the button title is shown as the user's message"
    chips = menu.find_elements("css selector", "button")
    assert all(not chip.is_enabled() for chip in chips), "the chosen group is disabled"
    assert not groups[0].find_element("css selector", "button").is_enabled(), (
        "the buttons of earlier steps are spent too: an old choice cannot land in a later step"
    )

    say(driver, SP2D_NUMBER, "rekening")
    answer = say(driver, ACCOUNT_NUMBER, SP2D_SATKER)
    assert SP2D_NUMBER in answer
    assert "\n" in answer, "line breaks of the answer are kept"
    assert driver.execute_script(
        "return getComputedStyle(document.querySelector('.msg--bot .msg__bubble')).whiteSpace"
    ) in ("pre-wrap", "pre-line")

    assert overflow(driver) == NO_OVERFLOW, "scrolling beside the message list at 360 px"
    assert (
        driver.execute_script(
            "return parseFloat(getComputedStyle(document.getElementById('chat-input')).fontSize)"
        )
        >= 16
    ), "inputs under 16 px make iOS zoom in"
    driver.save_screenshot(str(screenshot_dir / "webchat-phone.png"))

    # The conversation lives on the server under the stored session id, from socket.io.
    sender = session_id(driver)
    assert sender
    events = tracker(stack, sender)
    assert events["latest_input_channel"] == "socketio"
    user_said = [e.get("text") for e in events["events"] if e["event"] == "user"]
    assert SP2D_NUMBER in user_said and ACCOUNT_NUMBER in user_said

    # Reload: same session, transcript restored, and the conversation goes on.
    driver.refresh()
    wait_for_status(driver, "Terhubung")
    assert session_id(driver) == sender
    assert any(SP2D_SATKER in text for text in bot_texts(driver)), "transcript not restored"
    restored_menu = driver.find_elements("css selector", "#chat-log .chips")[1]
    assert not restored_menu.find_element("css selector", "button").is_enabled()
    say(driver, "menu", "Silakan pilih layanan")
    user_said = [e.get("text") for e in tracker(stack, sender)["events"] if e["event"] == "user"]
    assert user_said.count("menu") == 2, "the reloaded page kept talking in the same session"

    set_viewport(driver, DESKTOP)
    time.sleep(0.3)
    assert overflow(driver) == NO_OVERFLOW, "scrolling beside the message list at 1280 px"
    driver.save_screenshot(str(screenshot_dir / "webchat-desktop.png"))
    assert severe_console_errors(driver) == []


def test_reconnects_after_the_connection_drops(driver, stack) -> None:
    set_viewport(driver, PHONE)
    open_fresh(driver, stack)
    sender = session_id(driver)

    # Drop the transport as a network failure would (not a deliberate disconnect).
    driver.execute_script("window.__webchat.socket.io.engine.close();")
    wait_for_status(driver, "Menyambungkan ulang…", timeout=5)
    wait_for_status(driver, "Terhubung", timeout=30)

    # The new connection rejoined the session: answers reach the page again.
    assert session_id(driver) == sender
    say(driver, "menu", "Silakan pilih layanan")


def test_messages_typed_while_offline_are_sent_after_reconnecting(driver, stack) -> None:
    set_viewport(driver, PHONE)
    open_fresh(driver, stack)
    before = len(bot_texts(driver))

    # Close the transport and type at once, before socket.io reconnects (1 s or more).
    driver.execute_script(
        """
        window.__webchat.socket.io.engine.close();
        const input = document.getElementById('chat-input');
        input.value = 'menu';
        document.getElementById('chat-form').requestSubmit();
        """
    )
    assert not driver.execute_script("return window.__webchat.state.ready")
    wait_for_status(driver, "Terhubung", timeout=30)
    wait_for_bot(driver, "Silakan pilih layanan", after=before)


def test_start_over_begins_a_new_session(driver, stack) -> None:
    set_viewport(driver, PHONE)
    open_fresh(driver, stack)
    say(driver, "menu", "Silakan pilih layanan")
    old = session_id(driver)

    driver.find_element("id", "chat-restart").click()
    wait_for_bot(driver, "Silakan pilih layanan", after=0)
    wait_for_status(driver, "Terhubung")
    new = session_id(driver)
    assert new and new != old
    assert user_texts(driver) == [], "the old transcript is cleared"
    assert bot_texts(driver)[0].startswith("Selamat ")


def test_user_text_is_shown_as_text_not_markup(driver, stack) -> None:
    set_viewport(driver, PHONE)
    open_fresh(driver, stack)
    attack = '<img src=x onerror="window.__xss=1"><b>tebal</b>'
    before = len(bot_texts(driver))
    type_message(driver, attack)
    wait_until(lambda: len(bot_texts(driver)) > before, message="no answer")
    assert user_texts(driver)[-1] == attack
    assert driver.find_elements("css selector", "#chat-log img, #chat-log b") == []
    assert driver.execute_script("return window.__xss") is None


def test_page_is_accessible_by_its_labels(driver, stack) -> None:
    set_viewport(driver, PHONE)
    open_fresh(driver, stack)
    # The live region wraps the list, which keeps its list semantics (axe "listitem").
    log = driver.find_element("css selector", "[role='log']")
    assert log.get_attribute("aria-live") == "polite"
    assert log.find_element("id", "chat-log").tag_name == "ol"
    box = driver.find_element("id", "chat-input")
    label = driver.find_element("css selector", "label[for='chat-input']")
    assert label.get_attribute("textContent").strip() == "Ketik pesan Anda"
    assert box.get_attribute("placeholder") == "Ketik pesan…"
    assert driver.find_element("id", "chat-send").text == "Kirim"
    assert driver.find_element("id", "chat-restart").text == "Mulai ulang"
    assert driver.find_element("id", "chat-status").get_attribute("role") == "status"

    # Keyboard users see where the focus is.
    driver.execute_script("document.activeElement.blur();")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).send_keys(Keys.TAB).perform()
    outline = driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return [document.activeElement.id, s.outlineStyle, parseFloat(s.outlineWidth)];"
    )
    assert outline[0] == "chat-restart"
    assert outline[1] != "none" and outline[2] >= 2, outline
