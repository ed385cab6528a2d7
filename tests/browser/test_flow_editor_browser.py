"""A guided flow changed in the desk is live at once, with no restart and no retraining.

The Kaltim profile asks a nameless visitor's name first (its `perkenalan` flow). A knowledge
manager logs in to the desk in headless Chromium, opens "Alur percakapan", changes the step
that thanks the visitor by name, saves it to the draft (the assistant still says the old text),
publishes, and the next visitor over REST is thanked with the new text.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.handoff_play import desk_services, say, wait_for

pytestmark = pytest.mark.browser

KM = ("wulan", "Wulan Pengelola", "sandi-rahasia-wulan-1")
OLD = "Terima kasih, Rina Wulandari. Silakan pilih layanan"
NEW_TEXT = (
    "Terima kasih, {nama}. Senang berkenalan dengan Anda. Silakan pilih layanan di bawah ini."
)
NEW = "Terima kasih, Rina Wulandari. Senang berkenalan dengan Anda."


def thanks(stack: Any) -> str:
    """What a new visitor is told after greeting and giving their name ("" when the greeting
    did not ask for the name: the caller waits and asks again)."""
    visitor = f"pengunjung-{uuid.uuid4().hex[:8]}"
    asked = "\n".join(str(m.get("text") or "") for m in say(stack, visitor, "halo"))
    if "boleh kami tahu nama Anda?" not in asked:
        return ""
    return "\n".join(str(m.get("text") or "") for m in say(stack, visitor, "Rina Wulandari"))


@pytest.fixture(scope="module")
def kaltim_stack(kaltim_site: Any) -> Any:
    from helpdesk.desk.passwords import hash_password
    from helpdesk.storage.desk_users import DeskUserRepository

    with desk_services(kaltim_site.stack) as services:
        DeskUserRepository(services.session_factory).create(
            KM[0], KM[1], hash_password(KM[2]), role="knowledge"
        )
    return kaltim_site.stack


def test_a_flow_step_changed_in_the_desk_is_live_without_a_restart(
    kaltim_stack, driver, screenshot_dir
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    stack = kaltim_stack
    wait_for(lambda: OLD in thanks(stack), 60, "the name flow's thanks", interval=1)

    wait = WebDriverWait(driver, 60)
    driver.set_window_size(1280, 900)
    driver.delete_all_cookies()
    driver.get(f"{stack.desk_url}/login")
    driver.find_element(By.NAME, "username").send_keys(KM[0])
    driver.find_element(By.NAME, "password").send_keys(KM[2])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.url_contains("/knowledge"))

    driver.find_element(By.LINK_TEXT, "Alur percakapan").click()
    wait.until(ec.presence_of_element_located((By.LINK_TEXT, "Perkenalan")))
    assert "sapaan pertama (menanyakan nama)" in driver.page_source
    driver.find_element(By.LINK_TEXT, "Perkenalan").click()
    step = wait.until(ec.presence_of_element_located((By.ID, "step-sambutan")))
    step.find_element(By.TAG_NAME, "summary").click()
    text = step.find_element(By.NAME, "text")
    text.clear()
    text.send_keys(NEW_TEXT)
    driver.save_screenshot(str(screenshot_dir / "flow-step-edit.png"))
    step.find_element(By.XPATH, ".//button[normalize-space()='Simpan ke draf']").click()
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "disimpan di draf"))
    assert OLD in thanks(stack), "a draft: citizens still get the published flow"

    driver.get(f"{stack.desk_url}/knowledge/flows")
    diff = driver.find_element(By.CSS_SELECTOR, ".flow-diff").text
    assert "Senang berkenalan dengan Anda" in diff
    driver.save_screenshot(str(screenshot_dir / "flow-draft.png"))
    driver.find_element(By.XPATH, "//button[normalize-space()='Terbitkan']").click()
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Alur diterbitkan"))

    wait_for(lambda: NEW in thanks(stack), 30, "the published step to be walked", interval=1)
