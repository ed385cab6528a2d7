"""The chat widget on another site, in headless Chromium: the demo page (another port: another
origin) carries the one-line snippet; the Kaltim profile lets it embed the chat.

A visitor opens the launcher, gives her name in the pre-chat form, is greeted by it; Escape
closes the panel and gives the focus back to the launcher; an answer that arrives while the
panel is closed shows the unread badge. Outside office hours the chat offers the form that
leaves a message for the officers, which becomes a ticket. On a 360 px phone the panel fills
the screen without sideways scrolling. axe-core (WCAG 2.1 A/AA rules) finds no serious or
critical violation on the page with the launcher, in the chat and in the offline form.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.handoff_play import desk_services

pytestmark = pytest.mark.browser

TITLE = "Layanan Informasi PPID Kalimantan Timur"
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def serious(driver: Any) -> list[str]:
    """axe-core's serious and critical violations on the current document."""
    from axe_core_python.selenium import Axe

    results = Axe().run(driver, options=WCAG)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def widget(driver: Any) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "helpdesk-widget").shadow_root


def launcher(driver: Any) -> Any:
    from selenium.webdriver.common.by import By

    return widget(driver).find_element(By.CSS_SELECTOR, ".launcher")


def into_chat(driver: Any, wait: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.switch_to.default_content()
    frame = widget(driver).find_element(By.CSS_SELECTOR, "iframe")
    wait.until(ec.frame_to_be_available_and_switch_to_it(frame))


def chat_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "chat-log").text


def test_the_widget_on_another_site(kaltim_site, driver, screenshot_dir) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)
    kaltim_site.set_clock("2026-12-07T09:00:00+08:00")  # Monday 09.00 WITA: officers on duty
    driver.set_window_size(1280, 900)
    driver.delete_all_cookies()
    driver.get(kaltim_site.demo_url)
    button = wait.until(lambda d: launcher(d))
    assert button.get_attribute("aria-label") == f"Buka obrolan: {TITLE}"
    assert button.get_attribute("aria-expanded") == "false"
    assert serious(driver) == []

    # Open with the keyboard: the pre-chat form asks her name.
    button.send_keys(Keys.ENTER)
    into_chat(driver, wait)
    name = wait.until(ec.visibility_of_element_located((By.ID, "chat-prechat-name")))
    driver.save_screenshot(str(screenshot_dir / "widget-prechat.png"))
    assert serious(driver) == []
    name.send_keys("12")
    name.send_keys(Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.ID, "chat-prechat-error"), "dengan huruf"))
    name.clear()
    name.send_keys("Rina Wulandari", Keys.ENTER)
    wait.until(lambda d: "Selamat pagi, Rina Wulandari!" in chat_text(d))
    wait.until(lambda d: "Bicara dengan Petugas" in chat_text(d))  # the menu, not the name flow
    assert "boleh kami tahu nama" not in chat_text(driver)
    assert driver.find_element(By.ID, "chat-office").is_displayed() is False  # on duty
    driver.save_screenshot(str(screenshot_dir / "widget-chat.png"))
    assert serious(driver) == []

    # Escape closes the panel and gives the focus back to the launcher.
    driver.find_element(By.ID, "chat-input").send_keys(Keys.ESCAPE)
    driver.switch_to.default_content()
    wait.until(lambda d: launcher(d).get_attribute("aria-expanded") == "false")
    focused = driver.execute_script(
        "return document.getElementById('helpdesk-widget').shadowRoot.activeElement.className"
    )
    assert "launcher" in focused

    # An answer that arrives while the panel is closed: the unread badge.
    launcher(driver).click()
    into_chat(driver, wait)
    box = wait.until(ec.element_to_be_clickable((By.ID, "chat-input")))
    box.send_keys("berapa lama permohonan informasi dijawab", Keys.ENTER)
    box.send_keys(Keys.ESCAPE)
    driver.switch_to.default_content()
    badge = widget(driver).find_element(By.CSS_SELECTOR, ".badge")
    wait.until(lambda d: badge.is_displayed() and badge.text.strip().isdigit())
    label = launcher(driver).get_attribute("aria-label")
    assert re.search(r"\(\d+ pesan baru\)$", label), label
    driver.save_screenshot(str(screenshot_dir / "widget-unread.png"))
    launcher(driver).click()
    assert not badge.is_displayed()
    into_chat(driver, wait)
    wait.until(lambda d: "paling lambat 10 hari kerja" in chat_text(d))

    # Friday 13.00 WITA: the officers left at 11.30; a message left becomes a ticket.
    kaltim_site.set_clock("2026-12-11T13:00:00+08:00")
    driver.switch_to.default_content()
    driver.get(kaltim_site.demo_url)
    wait.until(lambda d: launcher(d)).click()
    into_chat(driver, wait)
    banner = wait.until(ec.visibility_of_element_located((By.ID, "chat-office")))
    assert "di luar jam layanan" in banner.text and "Jumat 08.00-11.30 WITA" in banner.text
    driver.find_element(By.ID, "chat-offline-open").click()
    assert driver.find_element(By.ID, "chat-offline-name").get_attribute("value") == (
        "Rina Wulandari"
    )
    driver.find_element(By.ID, "chat-offline-email").send_keys("rina@")
    driver.find_element(By.ID, "chat-offline-message").send_keys(
        "Saya ingin meminta salinan DPA Dinas Pendidikan tahun 2026."
    )
    driver.find_element(By.ID, "chat-offline-send").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "chat-offline-email-error"), "e-mail"))
    assert serious(driver) == []
    email = driver.find_element(By.ID, "chat-offline-email")
    email.send_keys("contoh.id")
    driver.find_element(By.ID, "chat-offline-send").click()
    result = wait.until(
        ec.text_to_be_present_in_element((By.ID, "chat-offline-result"), "sebagai tiket")
    )
    assert result
    text = driver.find_element(By.ID, "chat-offline-result").text
    driver.save_screenshot(str(screenshot_dir / "widget-offline.png"))
    ticket_id = re.search(r"tiket (\d{8}-[A-Z]{6})", text).group(1)
    assert "Senin, 14 Desember 2026 pukul 08.00 WITA" in text
    driver.find_element(By.ID, "chat-offline-done").click()  # back to the conversation
    wait.until(ec.visibility_of_element_located((By.ID, "chat-input")))
    with desk_services(kaltim_site.stack) as services:
        ticket = services.tickets.get_status(ticket_id)
    assert ticket is not None and ticket.email == "rina@contoh.id"
    assert "salinan DPA" in ticket.chronology

    # A 360 px phone: the panel fills the screen, nothing scrolls sideways.
    driver.switch_to.default_content()
    driver.set_window_size(360, 740)
    driver.get(kaltim_site.demo_url)
    wait.until(lambda d: launcher(d)).click()
    panel = widget(driver).find_element(By.CSS_SELECTOR, ".panel")
    width = driver.execute_script("return window.innerWidth")
    assert panel.rect["width"] == width and panel.rect["x"] == 0
    into_chat(driver, wait)
    wait.until(ec.visibility_of_element_located((By.ID, "chat-input")))
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
    driver.save_screenshot(str(screenshot_dir / "widget-360.png"))
    assert serious(driver) == []
    driver.switch_to.default_content()
