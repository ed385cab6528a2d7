"""What the Rasa server's `/healthz` checks, read from Rasa's agent (`app.ctx.agent`).

- `model`: the agent has loaded a model (`Agent.is_ready`);
- `tracker_store`: Rasa's SQL tracker store answers and has its `events` table (another kind
  of store is reported as not checked; an in-memory one as such). Rasa itself would fall back
  to an in-memory store and lose conversations, so this one matters;
- `database`: the helpdesk database (the inbox of WhatsApp and Telegram, the button payloads,
  the rate limits) is reachable and migrated;
- `lock_store`: Rasa's Redis lock store answers PING, when one is configured
  (`HELPDESK_REDIS_URL`); an in-memory lock store is not listed.
"""

from __future__ import annotations

from typing import Any, Callable

from helpdesk.health import Check, CheckFailed, database_check, tracker_store_check


def unwrap_tracker_store(store: Any) -> Any:
    """The store inside Rasa's wrappers (`FailSafeTrackerStore`, `AwaitableTrackerStore`)."""
    for _ in range(5):  # each wrapper keeps the store it wraps in `_tracker_store`
        inner = getattr(store, "_tracker_store", None)
        if inner is None:
            break
        store = inner
    return store


def model_probe(agent: Any) -> str:
    """The agent has a model (its id, e.g. the model file's hash, in the detail).

    Raises:
        CheckFailed: "no model loaded".
    """
    if agent is None or not agent.is_ready():
        raise CheckFailed("no model loaded")
    return f"model {agent.model_id}" if getattr(agent, "model_id", None) else "loaded"


def rasa_server_checks(agent: Any, session_factory: Callable[[], Any]) -> list[Check]:
    """The Rasa server's checks for `agent` (None while Rasa has not created it yet).

    Args:
        agent: Rasa's agent (`app.ctx.agent`).
        session_factory: Returns the helpdesk database's session factory when called.
    """
    checks = [Check("model", lambda: model_probe(agent))]
    store = unwrap_tracker_store(getattr(agent, "tracker_store", None))
    engine = getattr(store, "engine", None)
    if engine is not None:
        checks.append(tracker_store_check(lambda: engine))
    elif store is None:
        checks.append(Check("tracker_store", _fail("no tracker store")))
    else:
        kind = type(store).__name__
        detail = "in memory" if kind == "InMemoryTrackerStore" else f"{kind}, not checked"
        checks.append(Check("tracker_store", lambda: detail))
    checks.append(database_check(session_factory))
    lock_store = getattr(agent, "lock_store", None)
    redis = getattr(lock_store, "red", None)  # rasa.core.lock_store.RedisLockStore
    if redis is not None:
        checks.append(Check("lock_store", lambda: _ping(redis)))
    return checks


def _ping(redis: Any) -> str:
    if not redis.ping():
        raise CheckFailed("no PONG")
    return "redis"


def _fail(message: str) -> Callable[[], None]:
    def probe() -> None:
        raise CheckFailed(message)

    return probe
