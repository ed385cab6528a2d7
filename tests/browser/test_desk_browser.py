"""The human handoff end to end, with the agent desk in headless Chromium.

A citizen on (fake) WhatsApp asks for an officer; an agent logs in to the desk, takes the
conversation, sees the citizen's new message arrive without reloading, replies (the reply
reaches the citizen on WhatsApp), resolves; the bot comes back, asks for a rating, and the
citizen's rating is stored as an agent rating of that handoff.

The whole assistant runs (tests/support/stack.py with `desk=True`): backend simulator, action
server, Rasa server with the WhatsApp channel, and `helpdesk desk serve` with its worker. Office
hours are always open here, so the test does not depend on the time it runs.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from tests.support.fake_whatsapp import WHATSAPP_BLOCK, FakeGraph, deliver, whatsapp_env
from tests.support.handoff_play import (
    create_agent,
    csat_ratings,
    desk_services,
    handoff_env,
    wait_for,
)

pytestmark = pytest.mark.browser

PHONE = "6281377700001"
AGENT = ("rina", "Rina Agen", "sandi-rahasia-rina-1")
ADMIN = ("admin", "admin-sandi-yang-panjang-1")


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def desk_stack(browser_prerequisites: None, graph: FakeGraph) -> Iterator[Any]:
    from tests.support.stack import DEFAULT_CREDENTIALS, Stack

    env = {
        **whatsapp_env(graph),
        **handoff_env(),
        "HELPDESK_DESK_ADMIN_USERNAME": ADMIN[0],
        "HELPDESK_DESK_ADMIN_PASSWORD": ADMIN[1],
    }
    with Stack(
        rasa=True, desk=True, env=env, credentials=DEFAULT_CREDENTIALS + WHATSAPP_BLOCK
    ) as running:
        yield running


@pytest.fixture(scope="module")
def services(desk_stack: Any) -> Iterator[Any]:
    """The helpdesk services on the stack's database, as the desk process builds them."""
    with desk_services(desk_stack) as built:
        yield built


@pytest.fixture(scope="module")
def agent(services: Any) -> Any:
    """The agent, created in the stack's database as an admin would."""
    return create_agent(services, *AGENT)


def test_citizen_to_agent_and_back_with_a_rating(desk_stack, graph, driver, services, agent):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    stack = desk_stack
    wait = WebDriverWait(driver, 30)
    driver.set_window_size(1280, 900)

    # The citizen asks for an officer on WhatsApp and is told their place in the queue.
    assert deliver(stack, PHONE, "Budi Santoso", "halo", "wamid.desk.1").status_code == 200
    graph.wait_for(PHONE, "Budi")
    asked = "saya mau bicara dengan petugas"
    assert deliver(stack, PHONE, "Budi Santoso", asked, "wamid.desk.2").status_code == 200
    graph.wait_for(PHONE, "antrean")

    # The agent logs in and goes online; the conversation is in the queue.
    driver.get(f"{stack.desk_url}/login")
    driver.find_element(By.NAME, "username").send_keys(AGENT[0])
    driver.find_element(By.NAME, "password").send_keys(AGENT[2])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-queue]")))
    assert "Budi Santoso" in driver.page_source

    # Take it and open it: the transcript shows the request and what the bot said.
    take = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-action=take]")))
    take.click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-transcript]")))
    transcript = driver.find_element(By.CSS_SELECTOR, "[data-transcript]")
    assert asked in transcript.text
    assert "antrean" in transcript.text  # the bot's queue message is part of the record

    # A new message from the citizen appears without reloading the page, its number masked.
    question = "SP2D kami nomor 260011301000123 belum masuk rekening"
    masked = "SP2D kami nomor ***********0123 belum masuk rekening"
    sent_before = len(graph.texts_to(PHONE))
    assert deliver(stack, PHONE, "Budi Santoso", question, "wamid.desk.3").status_code == 200
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-transcript]"), masked))
    assert question not in driver.find_element(By.CSS_SELECTOR, "[data-transcript]").text
    # The officer it is assigned to may show it in full (recorded in the audit trail).
    driver.find_element(By.LINK_TEXT, "Tampilkan data lengkap").click()
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-transcript]"), question))
    # The bot stayed silent: nothing was sent to the citizen for that message.
    time.sleep(1)
    assert graph.texts_to(PHONE)[sent_before:] == []

    # The agent replies; the reply reaches the citizen on WhatsApp.
    reply = "Baik Pak Budi, kami cek ke KPPN dan kabari dalam 10 menit."
    box = driver.find_element(By.CSS_SELECTOR, "textarea[name=text]")
    box.send_keys(reply)
    driver.find_element(By.CSS_SELECTOR, "[data-action=reply]").click()
    graph.wait_for(PHONE, reply)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-transcript]"), reply))

    # Resolve: the bot thanks the citizen and asks for a rating of the agent's service.
    driver.find_element(By.CSS_SELECTOR, "[data-action=resolve]").click()
    confirm = driver.find_elements(By.CSS_SELECTOR, "[data-action=confirm-resolve]")
    if confirm:
        confirm[0].click()
    texts = wait_for(
        lambda: [
            t for t in graph.texts_to(PHONE) if "petugas" in t.lower() and "nilai" in t.lower()
        ],
        30,
        "the agent rating question on WhatsApp",
    )
    assert texts

    # The citizen rates 5: stored as an agent rating of this handoff.
    assert deliver(stack, PHONE, "Budi Santoso", "5", "wamid.desk.4").status_code == 200
    ratings = wait_for(
        lambda: [r for r in csat_ratings(services) if r[1] == "agent"], 30, "the agent rating"
    )
    assert ratings[0][0] == 5 and ratings[0][2] is not None
