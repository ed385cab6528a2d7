"""The knowledge managers' loop end to end, with the desk in headless Chromium.

Citizens ask on REST what the knowledge base does not answer. A knowledge manager logs in,
opens "Pertanyaan warga", finds the group of those questions, adds them as alternatives of the
entry the desk suggests and publishes: the same question asked again over REST is answered,
with no restart of any process. Then she makes a new entry from another group, writes its
answer, publishes it, and the group's question is answered with it.

The whole assistant runs (tests/support/stack.py with `desk=True`) with its own copy of the
test index (publishing rebuilds the index in place; the other stacks share theirs) and the
action servers' knowledge refresh every 2 seconds.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from helpdesk.knowledge.loader import load_faqs
from tests.support.handoff_play import desk_services, say, wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
KM = ("sari", "Sari Pengelola", "sandi-rahasia-sari-1")
#: Declined today (no entry is worded like them); the desk suggests `kppn-jam-layanan`.
HOLIDAY = ["kppn tutup saat cuti bersama?", "kppn libur pas cuti bersama ga"]
#: Declined today, and no entry is about them.
ALLOWANCE = ["kapan tunjangan kinerja cair", "kenapa tunjangan kinerja belum cair"]
NEW_ANSWER = "Tunjangan kinerja dibayarkan setelah SPM tunjangan kinerja satker terbit."


def answer_of(entry_id: str) -> str:
    entries = load_faqs(ROOT / "knowledge_base" / "faq")
    return next(e.answer for e in entries if e.id == entry_id)


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in messages)


def answered_with(stack: Any, question: str, snippet: str) -> bool:
    """Whether a new citizen asking `question` gets `snippet` in the replies."""
    return snippet in texts(say(stack, f"warga-{uuid.uuid4().hex[:8]}", question))


@pytest.fixture(scope="module")
def km_stack(browser_prerequisites: None, tmp_path_factory) -> Iterator[Any]:
    from tests.support.stack import SHARED_KB_INDEX, Stack

    index = tmp_path_factory.mktemp("kb") / "index"
    if SHARED_KB_INDEX.is_dir():  # up to date already: `helpdesk kb build` only checks it
        shutil.copytree(SHARED_KB_INDEX, index)
    env = {
        "HELPDESK_KB_INDEX": str(index),
        "HELPDESK_KB_REFRESH_SECONDS": "2",
        "HELPDESK_DESK_ADMIN_USERNAME": "admin",
        "HELPDESK_DESK_ADMIN_PASSWORD": "admin-sandi-yang-panjang-1",
    }
    with Stack(rasa=True, desk=True, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def knowledge_manager(km_stack: Any) -> None:
    from helpdesk.desk.passwords import hash_password
    from helpdesk.storage.desk_users import DeskUserRepository

    with desk_services(km_stack) as services:
        DeskUserRepository(services.session_factory).create(
            KM[0], KM[1], hash_password(KM[2]), role="knowledge"
        )


def group_section(driver: Any, words: str) -> Any:
    from selenium.webdriver.common.by import By

    for section in driver.find_elements(By.CSS_SELECTOR, "section.kb-group"):
        if words in section.text:
            return section
    raise AssertionError(f"no group about {words!r} in the inbox:\n{driver.page_source[:3000]}")


def publish(driver: Any, wait: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.find_element(By.XPATH, "//button[normalize-space()='Terbitkan']").click()
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "diterbitkan"))


def test_a_knowledge_manager_closes_the_loop_without_a_restart(
    km_stack, knowledge_manager, driver, screenshot_dir
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    stack = km_stack
    hours = answer_of("kppn-jam-layanan")[:60]
    for question in HOLIDAY + ALLOWANCE:
        replies = texts(say(stack, f"warga-{uuid.uuid4().hex[:8]}", question))
        assert hours not in replies and NEW_ANSWER not in replies, (question, replies)

    # A page replaced while a condition reads it makes Chromium answer "Node with given id does
    # not belong to the document" (a WebDriverException, not a stale element): read it again.
    from selenium.common.exceptions import WebDriverException

    wait = WebDriverWait(driver, 60, ignored_exceptions=(WebDriverException,))
    driver.set_window_size(1280, 900)
    driver.delete_all_cookies()
    driver.get(f"{stack.desk_url}/login")
    driver.find_element(By.NAME, "username").send_keys(KM[0])
    driver.find_element(By.NAME, "password").send_keys(KM[2])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.url_contains("/knowledge"))

    # The group of the holiday questions, its suggested entry, added as alternatives.
    driver.get(f"{stack.desk_url}/knowledge/questions")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "section.kb-group")))
    driver.save_screenshot(str(screenshot_dir / "knowledge-inbox.png"))
    holiday = group_section(driver, "cuti bersama")
    assert "2 pertanyaan" in holiday.text and "Tidak terjawab: 2" in holiday.text
    add = holiday.find_element(
        By.XPATH,
        ".//li[.//a[@href='/knowledge/kppn-jam-layanan']]//button",
    )
    add.click()
    wait.until(ec.url_contains("/knowledge/kppn-jam-layanan"))
    assert "2 pertanyaan ditambahkan sebagai alternatif" in driver.page_source
    driver.save_screenshot(str(screenshot_dir / "knowledge-entry-draft.png"))
    publish(driver, wait)

    wait_for(
        lambda: answered_with(stack, HOLIDAY[1], hours),
        60,
        "the published alternatives to answer the holiday question",
        interval=2,
    )

    # A new entry from the allowance group.
    driver.get(f"{stack.desk_url}/knowledge/questions")
    allowance = group_section(driver, "tunjangan kinerja")
    assert "cuti bersama" not in allowance.text  # the holiday group left the inbox
    allowance.find_element(By.XPATH, ".//button[normalize-space()='Buat entri baru']").click()
    wait.until(ec.presence_of_element_located((By.NAME, "answer")))
    assert "tunjangan kinerja" in driver.find_element(By.NAME, "question").get_attribute("value")
    driver.find_element(By.NAME, "category").clear()
    driver.find_element(By.NAME, "category").send_keys("Gaji dan Tunjangan")
    driver.find_element(By.NAME, "answer").send_keys(NEW_ANSWER)
    driver.save_screenshot(str(screenshot_dir / "knowledge-new-from-group.png"))
    driver.find_element(By.XPATH, "//button[normalize-space()='Simpan draf']").click()
    wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Draf disimpan"))
    publish(driver, wait)

    wait_for(
        lambda: answered_with(stack, ALLOWANCE[0], NEW_ANSWER),
        60,
        "the new entry to answer the allowance question",
        interval=2,
    )
    # The group's questions left the inbox (the waits above may have added declined ones).
    driver.get(f"{stack.desk_url}/knowledge/questions")
    waiting = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".kb-examples li")]
    assert not any(ALLOWANCE[1] in text or HOLIDAY[0] in text for text in waiting), waiting
    driver.get(f"{stack.desk_url}/knowledge/weak")
    assert "Titik lemah basis pengetahuan" in driver.page_source
    driver.save_screenshot(str(screenshot_dir / "knowledge-weak-spots.png"))
