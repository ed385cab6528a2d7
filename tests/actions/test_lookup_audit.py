"""Every self-service lookup is in the audit trail: who (channel, masked sender), which
identifier (masked) and the result class; a lookup the trail cannot record is not answered."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.forms.validate_sakti_form import ValidateSaktiForm
from helpdesk.backends.errors import BackendUnavailable, NotFound, Rejected
from helpdesk.backends.models import DigitUser, SaktiResetResult, SaktiSatker
from helpdesk.security.ratelimit import Rule
from helpdesk.services import Services
from tests.actions.conftest import failing_property, responses
from tests.actions.test_service_actions import (
    CASE_IDS,
    CASES,
    NIK,
    PHONE,
    SP2D,
    SP2D_INFO,
    registration,
    run,
    services_with_limits,
    tracker,
)

RESULTS = {
    "sp2d": SP2D_INFO,
    "contract": registration(),
    "digit": DigitUser("nik", "aktif", "bu***@ke***.go.id"),
    "sakti": SaktiResetResult("SKT-1", "password", "415011", "62812****7890"),
}
#: The action and masked target each case's lookup is recorded with.
RECORDED = {
    "sp2d": ("lookup.sp2d", "sp2d:2600*******0123"),
    "contract": ("lookup.contract", "contract:4150**************2026"),
    "digit": ("lookup.digit_status", "nik:3201********0001"),
    "sakti": ("lookup.sakti_password_reset", "nik:3201********0001"),
}


def slots_of(case) -> dict[str, Any]:
    return {**case.slots, "digit_service": "status"} if case.form == "digit" else case.slots


def records(services: Services) -> list:
    return list(services.audit.repository.walk())


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize(
    ("error", "result"),
    [(None, "found"), (NotFound("x"), "not_found"), (BackendUnavailable("x"), "error")],
)
async def test_each_lookup_is_recorded_with_its_result_and_no_full_identifier(
    settings, session_factory, case, error, result
):
    fake = case.fake(result=RESULTS[case.form], error=error)
    services = services_with_limits(settings, session_factory, case, fake)

    await run(case.action(services), slots_of(case), CollectingDispatcher())

    (record,) = records(services)
    action, target = RECORDED[case.form]
    assert (record.action, record.target, record.result) == (action, target, result)
    assert record.actor == "whatsapp:62812****7890"
    line = str(record.as_dict())
    for secret in (PHONE, NIK, SP2D, "KTR-01/PPK/2026"):
        assert secret not in line
    assert services.audit.verify().ok


async def test_a_refused_reset_is_recorded_as_refused(settings, session_factory):
    case = next(c for c in CASES if c.form == "sakti")
    fake = case.fake(error=Rejected("requester_not_owner"))
    services = services_with_limits(settings, session_factory, case, fake)

    await run(case.action(services), case.slots, CollectingDispatcher())

    assert [r.result for r in records(services)] == ["refused"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_a_lookup_the_trail_cannot_record_is_not_answered(
    settings, session_factory, case, monkeypatch
):
    fake = case.fake(result=RESULTS[case.form])
    services = services_with_limits(settings, session_factory, case, fake)
    monkeypatch.setattr(type(services), "audit", failing_property(RuntimeError("db down")))
    dispatcher = CollectingDispatcher()

    await run(case.action(services), slots_of(case), dispatcher)

    assert responses(dispatcher) == ["utter_technical_problem"]
    for message in dispatcher.messages:  # nothing of the answer leaked into the reply
        assert "KPPN" not in str(message) and "SKT-1" not in str(message)


async def test_a_limited_lookup_is_recorded_as_limited(settings, session_factory):
    case = CASES[0]
    fake = case.fake(result=RESULTS[case.form])
    services = services_with_limits(
        settings, session_factory, case, fake, per_sender=Rule("lookup_sender", 1, 3600)
    )
    for _ in range(2):
        await run(case.action(services), case.slots, CollectingDispatcher())

    assert [r.result for r in records(services)] == ["found", "limited"]
    assert len(fake.calls) == 1


async def test_the_sakti_owner_check_is_recorded(settings, session_factory):
    case = next(c for c in CASES if c.form == "sakti")
    fake = case.fake(result=[SaktiSatker("415011", "KPPN Jakarta II")])
    services = services_with_limits(settings, session_factory, case, fake)
    form = ValidateSaktiForm(services)
    slots = {"sakti_kind": "password", "sakti_nik": NIK}

    await form.validate_sakti_nik(NIK, CollectingDispatcher(), tracker(slots), {})

    (record,) = records(services)
    assert (record.action, record.result) == ("lookup.sakti_owner_check", "found")
    assert record.target == "nik:3201********0001"
