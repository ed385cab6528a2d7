"""The endpoints Rasa starts with: Rasa's Redis lock store when HELPDESK_REDIS_URL is set."""

from __future__ import annotations

import os
import uuid

import pytest
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.utils.endpoints import read_endpoint_config

from scripts.run_plan import ROOT, redis_lock_store, write_endpoints


@pytest.fixture(autouse=True)
def rasa_environment(monkeypatch, tmp_path):
    """The variables endpoints.yml names, as `make run` sets them."""
    for name, value in {
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook",
        "RASA_ACTIONS_TOKEN": "token",
        "RASA_TRACKER_STORE_URL": "",
        "RASA_TRACKER_DB": str(tmp_path / "tracker.db"),
    }.items():
        monkeypatch.setenv(name, value)


def test_without_redis_rasa_starts_with_the_repositorys_endpoints(tmp_path):
    env: dict[str, str] = {}
    assert write_endpoints(env, tmp_path) == ROOT / "endpoints.yml"
    assert isinstance(
        LockStore.create(read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")),
        InMemoryLockStore,
    )
    assert env == {}


def test_a_redis_url_adds_rasas_lock_store_with_the_password_kept_out_of_the_file(
    tmp_path, monkeypatch
):
    env = {"HELPDESK_REDIS_URL": "redis://:s%40cret@10.1.2.3:6380/2"}
    path = write_endpoints(env, tmp_path)

    text = path.read_text()
    assert path.parent == tmp_path
    assert "s@cret" not in text and "s%40cret" not in text
    assert env["RASA_LOCK_STORE_PASSWORD"] == "s@cret"
    assert "action_endpoint:" in text and "tracker_store:" in text  # the rest is kept
    monkeypatch.setenv("RASA_LOCK_STORE_PASSWORD", env["RASA_LOCK_STORE_PASSWORD"])
    config = read_endpoint_config(str(path), "lock_store")
    assert config.type == "redis" and config.url == "10.1.2.3"
    assert config.kwargs == {"port": 6380, "db": 2, "password": "s@cret"}


@pytest.mark.parametrize(
    "url",
    ["http://localhost:6379", "redis://", "localhost:6379", "redis://host/notanumber"],
)
def test_a_wrong_redis_url_is_refused_with_the_setting_named(url):
    with pytest.raises(ValueError, match="HELPDESK_REDIS_URL|invalid literal"):
        redis_lock_store(url)


def test_tls_user_and_key_prefix():
    block, secrets = redis_lock_store("rediss://rasa:pw@cache:6390", "helpdesk1")
    assert "use_ssl: true" in block and "key_prefix: helpdesk1" in block
    assert "db: 0" in block and "port: 6390" in block
    assert secrets == {"RASA_LOCK_STORE_USERNAME": "rasa", "RASA_LOCK_STORE_PASSWORD": "pw"}
    with pytest.raises(ValueError, match="alphanumeric"):
        redis_lock_store("redis://cache", "help-desk")


@pytest.mark.skipif(
    not os.environ.get("HELPDESK_TEST_REDIS_URL"), reason="needs `make engines` (Redis)"
)
def test_two_rasa_lock_stores_on_one_redis_serialise_a_conversation(tmp_path, monkeypatch):
    env = {
        "HELPDESK_REDIS_URL": os.environ["HELPDESK_TEST_REDIS_URL"],
        "HELPDESK_REDIS_KEY_PREFIX": "t" + uuid.uuid4().hex[:8],
    }
    path = write_endpoints(env, tmp_path)
    for name in ("RASA_LOCK_STORE_PASSWORD", "RASA_LOCK_STORE_USERNAME"):
        if name in env:
            monkeypatch.setenv(name, env[name])
    first, second = (
        LockStore.create(read_endpoint_config(str(path), "lock_store")) for _ in range(2)
    )
    assert isinstance(first, RedisLockStore)
    conversation = uuid.uuid4().hex
    mine = first.issue_ticket(conversation, 30)
    theirs = second.issue_ticket(conversation, 30)
    lock = second.get_lock(conversation)  # the second server sees the first one's ticket
    assert lock.now_serving == mine and lock.is_locked(theirs) and not lock.is_locked(mine)
    first.finish_serving(conversation, mine)
    lock = second.get_lock(conversation)
    assert lock.now_serving == theirs and not lock.is_locked(theirs)
    second.finish_serving(conversation, theirs)
