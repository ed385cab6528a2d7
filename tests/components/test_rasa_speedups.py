"""The cached action-response validator accepts and rejects exactly what Rasa's does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from components import extensions, rasa_speedups

extensions.apply()  # as the Rasa server does when it loads the model

GOOD = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "faq_id", "value": "x"}], "responses": [{"text": "a"}]},
    {},
]
BAD = [
    {"events": [{"name": "missing event type"}], "responses": []},
    {"events": "not a list"},
    {"events": [{"event": 5}]},
]


def test_patch_is_installed():
    assert rasa_speedups.apply() is True
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result


@pytest.mark.parametrize("payload", GOOD)
def test_accepts_what_rasa_accepts(payload):
    validate(payload, RemoteAction.action_response_format_spec())  # Rasa's own check passes
    assert RemoteAction("action_x", None)._validate_action_result(payload) is True


@pytest.mark.parametrize("payload", BAD)
def test_rejects_what_rasa_rejects_with_the_same_error(payload):
    with pytest.raises(ValidationError) as expected:
        validate(payload, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError) as got:
        RemoteAction("action_x", None)._validate_action_result(payload)
    assert got.value.message.startswith(expected.value.message)
    assert "Failed to validate Action server response" in got.value.message


def test_event_types_resolve_as_before():
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    assert getattr(Event.resolve_by_type, "_helpdesk_speedup", False)
    for _ in range(2):  # uncached, then cached
        assert Event.resolve_by_type("user") is UserUttered
        assert Event.resolve_by_type("slot") is SlotSet
        assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no-such-event")


def test_events_round_trip_through_the_patched_lookup():
    from rasa.shared.core.events import Event, SlotSet

    event = Event.from_parameters({"event": "slot", "name": "faq_id", "value": "sp2d"})
    assert event == SlotSet("faq_id", "sp2d")


def test_endpoint_requests_reuse_one_connection_and_send_what_rasa_sends():
    """Calls to the action server go over one kept connection, with Rasa's headers and body;
    a connection the server closed is not reused."""
    import asyncio

    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    seen = []

    async def handle(request):
        seen.append(
            (
                request.transport.get_extra_info("peername")[1],
                request.headers.get("Authorization"),
                request.headers.get("Content-Type"),
                await request.json(),
            )
        )
        if request.path == "/fail":
            return web.Response(status=500, text="no")
        return web.json_response({"events": [], "n": len(seen)})

    async def scenario():
        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app, keepalive_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(
            url=f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer t"}
        )
        try:
            first = await endpoint.request(json={"next_action": "a"}, method="post")
            second = await endpoint.request(json={"next_action": "b"}, method="post")
            with pytest.raises(ClientResponseError):
                await endpoint.request(json={"x": 1}, method="post", subpath="../fail")
            await asyncio.sleep(1.0)  # the server closes the idle connection
            third = await endpoint.request(json={"next_action": "c"}, method="post")
        finally:
            rasa_speedups.close_sessions()
            await runner.cleanup()
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert (first["n"], second["n"], third["n"]) == (1, 2, 4)
    assert seen[0][0] == seen[1][0]  # the same client port: one connection
    assert [s[1:3] for s in seen] == [("Bearer t", "application/json")] * 4
    bodies = [{"next_action": "a"}, {"next_action": "b"}, {"x": 1}, {"next_action": "c"}]
    assert [s[3] for s in seen] == bodies
