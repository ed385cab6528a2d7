"""An agent attaches a file to a reply on the conversation page: multipart upload, CSRF, the
checks with their Indonesian messages (nothing lost: the text stays), the file kept in the
helpdesk file store with the citizen recorded, shown in the transcript and opened again.

Served by the conftest's real desk server; the browser is an aiohttp client posting
multipart forms as the page's form does.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from helpdesk.desk.reply_upload import MSG_FILE_NOT_HELD, MSG_FILE_TOO_LARGE, MSG_FILE_TYPE
from helpdesk.handoff.agent_files import ATTACHMENT_KEY
from helpdesk.storage.attachments import MAX_BYTES
from tests.unit.desk.conftest import DeskClient
from tests.unit.desk.test_conversations import SENDER, queue

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
TEXT = "Berikut surat balasan yang Bapak minta."


async def post_reply(
    client: DeskClient,
    handoff_id: int,
    text: str = "",
    file: tuple[str, bytes, str] | None = None,
    *,
    csrf: bool = True,
    script: bool = True,
) -> tuple[int, Any]:
    """POST the reply form as multipart (`file`: name, bytes, type); the JSON answer when
    `script` (the page's script asks for JSON), else the page's HTML."""
    form = aiohttp.FormData()
    if csrf:
        form.add_field("csrf_token", client.csrf_token or "")
    form.add_field("text", text)
    if file is not None:
        name, data, content_type = file
        form.add_field("file", data, filename=name, content_type=content_type)
    headers = {"Accept": "application/json"} if script else {}
    async with client.http.post(
        f"{client.base_url}/conversations/{handoff_id}/reply",
        data=form,
        headers=headers,
        allow_redirects=False,
    ) as resp:
        body = await resp.text()
        return resp.status, json.loads(body) if script and resp.status != 403 else body


async def held_conversation(desk, services):
    handoff = queue(services)
    client, agent = await desk.client_for("agent")
    assert (await client.post(f"/conversations/{handoff.id}/take")).status == 303
    return handoff, client, agent


async def test_a_file_without_text_is_stored_with_the_citizen_and_queued(desk, services):
    handoff, client, agent = await held_conversation(desk, services)
    page = await client.get(f"/conversations/{handoff.id}")
    assert 'enctype="multipart/form-data"' in page.text and 'name="file"' in page.text
    calls = desk.app.ctx.relay.calls

    status, answer = await post_reply(
        client, handoff.id, file=("Surat Balasan.pdf", PDF, "application/octet-stream")
    )

    assert status == 200 and answer["ok"] is True
    [message] = services.handoff_messages.for_handoff(handoff.id)
    assert (message.text, message.attachment_name, message.status) == (
        "",
        "Surat Balasan.pdf",
        "pending",
    )
    files = services.attachment_files
    assert files.path_of(message.attachment_key).read_bytes() == PDF
    [listed] = files.of_sender(SENDER)  # the citizen is the file's party: erasure covers it
    assert listed["id"] == message.attachment_key and listed["type"] == "application/pdf"
    assert desk.app.ctx.relay.calls == calls + 1
    # The transcript shows the file; the agent can open it again.
    page = await client.get(f"/conversations/{handoff.id}")
    assert "Surat Balasan.pdf" in page.text
    link = f"/conversations/{handoff.id}/lampiran?media={message.attachment_key}"
    opened = await client.get(link)
    assert opened.status == 200 and opened.headers["Content-Type"] == "application/pdf"
    # The citizen's erasure removes it.
    assert files.forget_sender(SENDER) == 1 and files.path_of(message.attachment_key) is None


async def test_text_and_file_go_in_one_reply(desk, services):
    handoff, client, _ = await held_conversation(desk, services)
    status, answer = await post_reply(
        client, handoff.id, TEXT, file=("foto.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32, "image/png")
    )
    assert status == 200 and answer["ok"] is True
    [message] = services.handoff_messages.for_handoff(handoff.id)
    assert (message.text, message.attachment_name) == (TEXT, "foto.png")
    events = json.loads((await client.get(f"/api/conversations/{handoff.id}/events")).text)
    [item] = events["messages"]
    assert item["attachment"]["filename"] == "foto.png" and item["attachment"]["kind"] == "image"
    assert ATTACHMENT_KEY not in item  # the desk shows the file, not the channel's metadata


async def test_a_wrong_type_is_refused_politely_and_the_text_stays(desk, services):
    handoff, client, _ = await held_conversation(desk, services)
    status, answer = await post_reply(
        client, handoff.id, TEXT, file=("program.exe", b"MZ\x90\x00", "application/x-msdownload")
    )
    assert status == 400 and answer == {"ok": False, "message": MSG_FILE_TYPE}
    # A name that lies about the content is refused the same way.
    status, answer = await post_reply(
        client, handoff.id, TEXT, file=("foto.jpg", b"MZ\x90\x00", "image/jpeg")
    )
    assert status == 400 and answer["message"] == MSG_FILE_TYPE
    # Without the script the page comes back with the message and the typed text.
    status, page = await post_reply(
        client, handoff.id, TEXT, file=("program.exe", b"MZ", "x/y"), script=False
    )
    assert status == 400 and MSG_FILE_TYPE in page and f">{TEXT}</textarea>" in page
    assert services.handoff_messages.for_handoff(handoff.id) == []
    assert services.attachment_files.of_sender(SENDER) == []


async def test_a_file_over_the_limit_is_refused_politely(desk, services):
    handoff, client, _ = await held_conversation(desk, services)
    big = b"%PDF-" + b"0" * MAX_BYTES
    status, answer = await post_reply(client, handoff.id, TEXT, file=("besar.pdf", big, "x/y"))
    assert status == 400 and answer["message"] == MSG_FILE_TOO_LARGE
    assert "maksimal 10 MB" in MSG_FILE_TOO_LARGE
    status, page = await post_reply(
        client, handoff.id, TEXT, file=("besar.pdf", big, "x/y"), script=False
    )
    assert status == 400 and f">{TEXT}</textarea>" in page
    assert services.handoff_messages.for_handoff(handoff.id) == []
    assert services.attachment_files.of_sender(SENDER) == []


async def test_an_upload_needs_the_csrf_token(desk, services):
    handoff, client, _ = await held_conversation(desk, services)
    status, _ = await post_reply(client, handoff.id, TEXT, file=("a.pdf", PDF, "x/y"), csrf=False)
    assert status == 403
    assert services.handoff_messages.for_handoff(handoff.id) == []
    assert services.attachment_files.of_sender(SENDER) == []


async def test_only_the_agent_holding_the_conversation_stores_a_file(desk, services):
    handoff = queue(services)
    client, _ = await desk.client_for("agent")  # has not taken it
    status, answer = await post_reply(client, handoff.id, file=("a.pdf", PDF, "x/y"))
    assert status == 400 and answer["message"] == MSG_FILE_NOT_HELD
    assert services.attachment_files.of_sender(SENDER) == []


async def test_an_empty_reply_without_a_file_is_still_refused(desk, services):
    handoff, client, _ = await held_conversation(desk, services)
    status, answer = await post_reply(client, handoff.id, "  ")
    assert status == 400 and "tidak boleh kosong" in answer["message"]
