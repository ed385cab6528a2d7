"""helpdesk.settings: the SAKTI channels and the REST token (issue 11, item 2)."""

from __future__ import annotations

import dataclasses

import pytest

from helpdesk.settings import REST_TOKEN_MIN_LENGTH, Settings

TOKEN = "k3Jx-9vQz_7LmN2pR5tW8yB1"


def test_sakti_resets_are_served_on_whatsapp_only_by_default():
    assert Settings().sakti_trusted_channels == ("whatsapp",)
    assert Settings.from_env({}).sakti_trusted_channels == ("whatsapp",)
    assert Settings.from_env({}).rest_token == ""


@pytest.mark.parametrize("channels", ["whatsapp,rest", " REST ", "rest"])
def test_rest_is_refused_as_a_sakti_channel_without_a_rest_token(channels):
    with pytest.raises(ValueError, match="HELPDESK_REST_TOKEN is not set") as error:
        Settings.from_env({"HELPDESK_SAKTI_CHANNELS": channels})
    assert "HELPDESK_SAKTI_CHANNELS" in str(error.value)


def test_rest_is_refused_when_the_settings_are_built_directly_too():
    with pytest.raises(ValueError, match="HELPDESK_REST_TOKEN"):
        Settings(sakti_trusted_channels=("whatsapp", "rest"))
    with pytest.raises(ValueError, match="HELPDESK_REST_TOKEN"):
        dataclasses.replace(Settings(), sakti_trusted_channels=("rest",))


def test_rest_is_a_sakti_channel_with_a_rest_token():
    settings = Settings.from_env(
        {"HELPDESK_SAKTI_CHANNELS": "whatsapp, rest", "HELPDESK_REST_TOKEN": f"  {TOKEN}\n"}
    )
    assert settings.sakti_trusted_channels == ("whatsapp", "rest")
    assert settings.rest_token == TOKEN


def test_a_short_rest_token_is_refused():
    short = "x" * (REST_TOKEN_MIN_LENGTH - 1)
    with pytest.raises(ValueError, match=f"at least {REST_TOKEN_MIN_LENGTH} characters"):
        Settings.from_env({"HELPDESK_REST_TOKEN": short})
    assert Settings.from_env({"HELPDESK_REST_TOKEN": short + "x"}).rest_token == short + "x"


def test_metrics_token_and_sweeper_address():
    defaults = Settings.from_env({})
    assert (defaults.sweeper_host, defaults.sweeper_port, defaults.metrics_token) == (
        "127.0.0.1",
        5070,
        "",
    )
    settings = Settings.from_env(
        {
            "HELPDESK_SWEEPER_HOST": "10.0.0.5",
            "HELPDESK_SWEEPER_PORT": "6070",
            "HELPDESK_METRICS_TOKEN": f" {TOKEN} ",
        }
    )
    assert (settings.sweeper_host, settings.sweeper_port) == ("10.0.0.5", 6070)
    assert settings.metrics_token == TOKEN
    assert TOKEN not in repr(settings)
    with pytest.raises(ValueError, match="HELPDESK_METRICS_TOKEN must be at least"):
        Settings.from_env({"HELPDESK_METRICS_TOKEN": "x" * (REST_TOKEN_MIN_LENGTH - 1)})
