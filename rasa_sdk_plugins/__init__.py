"""Extensions of the action server, loaded by rasa-sdk's plugin hook.

rasa-sdk imports this top-level package when the action server starts
(`rasa_sdk.plugin._discover_plugins`; `rasa run actions` puts the working directory, the
project root, on `sys.path`) and calls `init_hooks` with its plugin manager. What each plugin
does is in its module:

- `action_auth`: only the Rasa server may call the action server (loopback by default, a shared
  bearer token on every call but `/health`, `/healthz` and `/metrics`).
- `ops`: `/healthz` (the helpdesk database, the FAQ index, the backend API) and `/metrics`
  (Prometheus; this machine only, or with `HELPDESK_METRICS_TOKEN`).
- `knowledge`: what a knowledge manager publishes is answered without a restart (the
  retriever of the newest revision swapped in, `HELPDESK_KB_REFRESH_SECONDS`).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk_plugins import action_auth


def init_hooks(manager: Any) -> None:
    """Register the action server's plugins with rasa-sdk's plugin manager.

    Args:
        manager: rasa-sdk's `pluggy.PluginManager` (`rasa_sdk.plugin.plugin_manager`).

    Raises:
        RuntimeError: When a plugin cannot be imported. rasa-sdk skips the whole package
            silently on a `ModuleNotFoundError`: the action server must rather not start.
    """
    manager.register(action_auth)
    try:
        from rasa_sdk_plugins import ops
    except ImportError as error:
        raise RuntimeError(f"the action server's /healthz and /metrics: {error}") from error
    manager.register(ops)
    from rasa_sdk_plugins import knowledge

    manager.register(knowledge)
