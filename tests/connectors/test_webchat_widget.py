"""The chat widget's server side: the loader (`widget.js`) with the profile's name and colour,
the embedding policy (CSP frame-ancestors), the office status the chat shows, the message left
outside office hours (a ticket; refused from another site, checked field by field, limited per
address), and the pre-chat name carried in the conversation's metadata."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator

import pytest

from connectors.webchat import SocketIOInput, WebChatInput
from connectors.webchat.widget import (
    OFFLINE_SUBJECT,
    WidgetConfig,
    clean_name,
    frame_ancestors,
    read_offline,
    render_loader,
)
from helpdesk.profile import PROFILES_DIR, ProfileError, read_profile
from helpdesk.services import Services, set_services
from helpdesk.settings import Settings
from tests.connectors.test_webchat import Server, browser, serve

KALTIM = PROFILES_DIR / "kaltim"
LOADER = "/webhooks/webchat/widget.js"


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock"
    path.write_text("2026-12-11T13:00:00+08:00")  # Friday 13.00 WITA: the officers left at 11.30
    return path


@pytest.fixture
def services(session_factory, tmp_path: Path, clock_file: Path) -> AsyncIterator[Services]:
    settings = replace(
        Settings.from_env(
            {
                "HELPDESK_PROFILE": "kaltim",
                "HELPDESK_VAR_DIR": str(tmp_path / "var"),
                "HELPDESK_TEST_CLOCK_FILE": str(clock_file),
                "HELPDESK_WIDGET_ORIGINS": "http://localhost:5090",
            }
        )
    )
    injected = Services(settings, session_factory=session_factory)
    set_services(injected)
    yield injected
    set_services(None)


@pytest.fixture
async def web(services, monkeypatch) -> AsyncIterator[Server]:
    monkeypatch.setattr("connectors.webchat.webhook.get_settings", lambda: services.settings)
    async with serve(WebChatInput.from_credentials(None)) as running:
        yield running


async def post(web: Server, body: object, origin: str | None = "self") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if origin == "self":
        headers["Origin"] = web.url
    elif origin is not None:
        headers["Origin"] = origin
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    async with web.http.post(
        web.url + "/webhooks/webchat/offline", data=data, headers=headers
    ) as r:
        return r.status, await r.json()


async def test_the_loader_carries_the_profiles_name_and_colour(web: Server) -> None:
    status, headers, body = await web.get(LOADER)
    script = body.decode()

    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == "public, max-age=300"
    config = json.loads(script.split("var CONFIG = ", 1)[1].split(";\n", 1)[0])
    assert config == {
        "title": "Layanan Informasi PPID Kalimantan Timur",
        "colour": "#0f5c3a",
        "prechatName": True,
    }
    assert "/*CONFIG*/" not in script


def test_the_loaders_configuration_cannot_close_its_script() -> None:
    config = WidgetConfig("Layanan </script><script>alert(1)", "#0b4a8b", False, ())
    assert "</script>" not in render_loader("var CONFIG = /*CONFIG*/null;", config)


async def test_only_the_allowed_sites_may_frame_the_chat(web: Server) -> None:
    _, headers, body = await web.get("/webhooks/webchat/")
    policy = headers["Content-Security-Policy"]

    assert policy.endswith(
        "frame-ancestors 'self' https://kaltimprov.go.id https://ppid.kaltimprov.go.id "
        "http://localhost:5090"
    )
    page = body.decode()
    assert 'data-brand="#0f5c3a"' in page and 'data-prechat-name="true"' in page
    assert frame_ancestors(()) == "frame-ancestors 'self'"


async def test_the_office_status_follows_the_clock(web: Server, clock_file: Path) -> None:
    status, _, body = await web.get("/webhooks/webchat/status")
    closed = json.loads(body)

    assert status == 200
    assert closed == {
        "open": False,
        "hours": "Senin-Kamis 08.00-16.00 WITA, Jumat 08.00-11.30 WITA",
        "next_opening": "Senin, 14 Desember 2026 pukul 08.00 WITA",
    }
    clock_file.write_text("2026-12-07T09:00:00+08:00")  # Monday 09.00 WITA
    _, _, body = await web.get("/webhooks/webchat/status")
    assert json.loads(body)["open"] is True


async def test_a_message_left_outside_office_hours_becomes_a_ticket(web: Server, services) -> None:
    status, reply = await post(
        web,
        {
            "name": "Rina Wulandari",
            "email": "rina@contoh.id",
            "message": "Saya ingin meminta salinan DPA Dinas Pendidikan tahun 2026.",
            "session_id": "a" * 32,
        },
    )

    assert status == 200
    assert reply["next_opening"] == "Senin, 14 Desember 2026 pukul 08.00 WITA"
    ticket = services.tickets.get_status(reply["ticket"])
    assert ticket is not None and ticket.subject == OFFLINE_SUBJECT
    assert ticket.email == "rina@contoh.id"
    assert "Nama: Rina Wulandari" in ticket.chronology and "salinan DPA" in ticket.chronology


async def test_a_bad_offline_message_is_refused_field_by_field(web: Server) -> None:
    status, reply = await post(web, {"name": "123", "email": "rina@", "message": "halo"})

    assert status == 400
    assert set(reply["errors"]) == {"name", "email", "message"}
    assert (await post(web, b"{not json"))[0] == 400
    assert (await post(web, [1, 2]))[0] == 400
    # From another site (or without an Origin): refused before anything is read.
    good = {"name": "Rina", "email": "rina@contoh.id", "message": "Mohon info jadwal layanan."}
    assert (await post(web, good, origin="https://penipu.example"))[0] == 403
    assert (await post(web, good, origin=None))[0] == 403


async def test_offline_messages_are_limited_per_address(web: Server) -> None:
    good = {"name": "Rina", "email": "rina@contoh.id", "message": "Mohon info jadwal layanan."}
    codes = [(await post(web, good))[0] for _ in range(6)]

    assert codes == [200, 200, 200, 200, 200, 429]


def test_offline_fields_and_names_are_read_as_the_chat_reads_them() -> None:
    message, errors = read_offline(
        {"name": "  Siti   Aminah ", "email": "Siti@Contoh.GO.ID", "message": " Halo,   ada info? "}
    )
    assert errors == {} and message is not None
    assert (message.name, message.email, message.message) == (
        "Siti Aminah",
        "Siti@contoh.go.id",
        "Halo, ada info?",
    )
    assert clean_name("O'Neil-Putra") == "O'Neil-Putra"
    assert clean_name("<b>") is None and clean_name("x" * 81) is None


def test_a_widget_colour_too_light_for_white_text_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "contoh"
    folder.mkdir()
    for name in ("menu.yml", "office_hours.yml", "flows.yml"):
        (folder / name).write_text((KALTIM / name).read_text())
    (folder / "faq").mkdir()
    (folder / "faq" / "kaltim.yml").write_text((KALTIM / "faq" / "kaltim.yml").read_text())
    text = (KALTIM / "profile.yml").read_text()
    (folder / "profile.yml").write_text(text.replace('colour: "#0f5c3a"', 'colour: "#ffd166"'))

    with pytest.raises(ProfileError, match="too light for white text"):
        read_profile(folder)
    bad_origin = text.replace("https://kaltimprov.go.id,", "kaltimprov.go.id/halaman,")
    (folder / "profile.yml").write_text(bad_origin)
    with pytest.raises(ProfileError, match="is not an origin"):
        read_profile(folder)


async def test_the_pre_chat_name_goes_with_every_message_of_the_session() -> None:
    channel = SocketIOInput.from_credentials({"session_persistence": True})
    async with serve(channel) as web:
        async with browser(web.url) as named:
            await named.sio.emit(
                "session_request", {"session_id": None, "name": " Rina  Wulandari "}
            )
            session = await asyncio.wait_for(named.confirmed.get(), 5)
            await named.say("halo", session)
            await named.answer()
        async with browser(web.url) as odd:
            await odd.sio.emit("session_request", {"session_id": None, "name": "<b>Rina</b>"})
            other = await asyncio.wait_for(odd.confirmed.get(), 5)
            await odd.say("halo", other)
            await odd.answer()

    first, second = web.agent.messages
    assert first.metadata == {"channel": "socketio", "name": "Rina Wulandari"}
    assert second.metadata == {"channel": "socketio"}  # not a name: none is passed on
