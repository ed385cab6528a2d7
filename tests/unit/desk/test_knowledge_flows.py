"""The flow editor in the desk (Alur percakapan), on the KRS profile's consultation: every role
reads the flows; knowledge managers change a step in a draft (checked as a whole, errors naming
the flow and the step), add and remove steps, publish or discard; what is published is the
flows the assistant walks, without a restart."""

from __future__ import annotations

import html
from dataclasses import replace

import pytest
import yaml

from helpdesk.conversation.flow_files import parse_flows
from helpdesk.profile import PROFILES_DIR
from helpdesk.services import Services, set_services
from helpdesk.settings import Settings

KRS = PROFILES_DIR / "krs"
TOPIK = "/knowledge/flows/konsultasi/nodes/topik"


@pytest.fixture
def services(session_factory, tmp_path) -> Services:
    settings = replace(
        Settings(var_dir=tmp_path / "var", tracker_db=tmp_path / "var" / "tracker.db"),
        profile_dir=KRS,
        menu_file=KRS / "menu.yml",
        kb_source=KRS / "faq",
    )
    injected = Services(settings, session_factory=session_factory)
    set_services(injected)
    yield injected
    set_services(None)


def text_of(page) -> str:
    return html.unescape(page.text)


def topik_form(**changes: str) -> dict[str, str]:
    form = {
        "text": "Silakan pilih topik konsultasi.",
        "input": "",
        "save": "topik",
        "error": "",
        "choices": "Perencanaan Rumah -> perencanaan\nPembangunan Rumah -> pembangunan\n"
        "Informasi KRS -> informasi",
        "next": "",
        "then": "",
    }
    form.update(changes)
    return form


async def test_every_role_reads_the_flows_and_only_editors_change_them(desk, services) -> None:
    agent, _ = await desk.client_for("agent")

    listing = await agent.get("/knowledge/flows")
    assert listing.status == 200
    assert "Konsultasi Rumah Swadaya" in text_of(listing)
    assert "menu 1. Konsultasi Rumah" in text_of(listing)
    page = await agent.get("/knowledge/flows/konsultasi")
    assert page.status == 200 and "Silakan pilih topik konsultasi." in text_of(page)
    assert "Perencanaan Rumah</strong> &rarr;" in page.text or "Perencanaan Rumah" in page.text
    assert 'action="/knowledge/flows/konsultasi/nodes/topik"' not in page.text
    assert (await agent.post(TOPIK, topik_form())).status == 403
    assert (await agent.post("/knowledge/flows/publish")).status == 403
    assert (await agent.get("/knowledge/flows/tidak-ada")).status == 404


async def test_a_step_changed_in_the_draft_is_walked_once_published(desk, services) -> None:
    client, _ = await desk.client_for("knowledge")
    before = services.flows["konsultasi"].nodes["topik"].text

    saved = await client.post(TOPIK, topik_form(text="Topik apa yang ingin {nama} konsultasikan?"))
    assert saved.status == 303 and "#step-topik" in saved.location
    # A draft: the assistant still walks the flows in force.
    assert services.flows["konsultasi"].nodes["topik"].text == before
    listing = text_of(await client.get("/knowledge/flows"))
    assert "Draf alur" in listing and "Perubahan terhadap yang berlaku (" in listing
    assert "<ins>+        text: Topik apa yang ingin {nama} konsultasikan?</ins>" in listing
    assert "<del>-        text: Silakan pilih topik konsultasi.</del>" in listing

    published = await client.post("/knowledge/flows/publish")
    assert published.status == 303
    walked = services.flows["konsultasi"].nodes["topik"]
    assert walked.text == "Topik apa yang ingin {nama} konsultasikan?"
    assert services.flow_store.draft() is None
    assert services.flow_store.in_force().source == "desk"
    # A second action server (its own services, the same database) walks it too.
    other = Services(services.settings, session_factory=services.session_factory)
    assert other.flows["konsultasi"].nodes["topik"].text == walked.text
    exported = await client.get("/knowledge/flows/export")
    flows = parse_flows(yaml.safe_load(exported.text), "flows.yml")
    assert flows["konsultasi"].nodes["topik"].text == walked.text


#: The consultation's choices, each node still reached: a bad line is added to them.
OTHERS = "Rencana -> perencanaan\nPembangunan Rumah -> pembangunan\nInformasi KRS -> informasi"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"choices": OTHERS + "\nLainnya -> tidak-ada"},
            "flow 'konsultasi', node 'topik': 'next' names 'tidak-ada', which is not a node",
        ),
        (
            {"choices": OTHERS + "\nLainnya => faq: tidak-ada"},
            "node 'topik': faq 'tidak-ada' is not in the knowledge base",
        ),
        ({"choices": OTHERS + "\nLainnya => ke mana saja"}, "Akhir 'ke mana saja' tidak dikenal"),
        (
            {"choices": OTHERS + "\nPerencanaan dan Pembangunan -> perencanaan"},
            "is longer than 20 characters",
        ),
        ({"text": "Halo {alamat_kantor}"}, "names {alamat_kantor}, which no node of the flow"),
        ({"choices": OTHERS + "\nLainnya"}, "tulis 'Judul -> langkah' atau 'Judul => akhir'"),
    ],
)
async def test_a_bad_step_is_refused_naming_it_and_nothing_changes(
    desk, services, changes, message
) -> None:
    client, _ = await desk.client_for("knowledge")

    page = await client.post(TOPIK, topik_form(**changes))

    assert page.status == 400
    shown = text_of(page)
    assert message in shown, shown[shown.find("flash-error") :][:400]
    assert services.flow_store.draft() is None


async def test_steps_are_added_pointed_to_removed_and_the_draft_discarded(desk, services) -> None:
    client, _ = await desk.client_for("supervisor")
    new_step = {"id": "jadwal", "text": "Klinik buka Senin-Jumat 08.00-15.00.", "then": "menu"}

    duplicate = await client.post("/knowledge/flows/konsultasi/nodes", {**new_step, "id": "topik"})
    assert duplicate.status == 400 and "sudah ada" in text_of(duplicate)
    bad_id = await client.post("/knowledge/flows/konsultasi/nodes", {**new_step, "id": "Jadwal!"})
    assert bad_id.status == 400 and "huruf kecil" in text_of(bad_id)
    added = await client.post("/knowledge/flows/konsultasi/nodes", new_step)
    assert added.status == 303
    # In the draft, nothing leads to it yet: the page says so, and it cannot be published.
    page = text_of(await client.get("/knowledge/flows/konsultasi"))
    assert "Belum dituju dari langkah mana pun: jadwal" in page
    refused = await client.post("/knowledge/flows/publish")
    assert refused.status == 303
    assert "nothing leads to node(s) 'jadwal'" in text_of(await client.get("/knowledge/flows"))
    assert "jadwal" not in services.flows["konsultasi"].nodes

    informasi = "/knowledge/flows/konsultasi/nodes/informasi"
    choices = (
        "Apa itu KRS => faq: krs-apa-itu\nJadwal klinik -> jadwal\nBicara ke petugas => handoff"
    )
    pointed = await client.post(informasi, {"text": "Informasi KRS.", "choices": choices})
    assert pointed.status == 303
    assert (await client.post("/knowledge/flows/publish")).status == 303
    walked = services.flows["konsultasi"]
    assert walked.nodes["jadwal"].then.kind == "menu"
    assert [c.next for c in walked.nodes["informasi"].choices] == [None, "jadwal", None]

    first = await client.post("/knowledge/flows/konsultasi/nodes/nama/delete")
    assert first.status == 400 and "Langkah pertama" in text_of(first)
    used = await client.post("/knowledge/flows/konsultasi/nodes/jadwal/delete")
    assert used.status == 400 and "'jadwal', which is not a node" in text_of(used)
    assert services.flow_store.draft() is None
    unpointed = await client.post(
        informasi, {"text": "Informasi KRS.", "choices": "Apa itu KRS => faq: krs-apa-itu"}
    )
    assert unpointed.status == 303
    assert (await client.post("/knowledge/flows/konsultasi/nodes/jadwal/delete")).status == 303
    draft = services.flow_store.draft()
    assert draft is not None and "jadwal" not in draft.flows["konsultasi"].nodes
    assert "jadwal" in services.flows["konsultasi"].nodes  # not yet published

    discarded = await client.post("/knowledge/flows/discard")
    assert discarded.status == 303 and services.flow_store.draft() is None
    assert (await client.post("/knowledge/flows/discard")).status == 404
    assert (await client.post("/knowledge/flows/publish")).status == 404
