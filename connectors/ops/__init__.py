"""`/healthz` and `/metrics` of the Rasa server: a channel that takes no messages.

Register it in `credentials.yml` (no keys; `make run` and `make run-cluster` copy the file)::

    connectors.ops.OpsInput:

* `GET /healthz`: 200 `{"status": "ok", "checks": {...}}` when the model is loaded, Rasa's SQL
  tracker store and the helpdesk database answer, and Rasa's Redis lock store when one is
  configured; 503 `{"status": "error", ...}` naming the failing dependency otherwise
  (`connectors.ops.checks`, report format in `helpdesk.health`). For a load balancer or a
  monitor; Rasa's own `GET /` only says the process is up.
* `GET /metrics`: the process's Prometheus metrics (`helpdesk.metrics`: messages per channel,
  Python's process metrics) to callers on this machine whose request no proxy forwarded, or to
  any caller with `Authorization: Bearer $HELPDESK_METRICS_TOKEN`; 403 otherwise. `make
  run-cluster`'s nginx answers 404 for it on the public port anyway.

Both are at the root of the server (`url_prefix` "/"), not under `/webhooks/`.
"""

from connectors.ops.webhook import CHANNEL_NAME, OpsConfigError, OpsInput

__all__ = ["CHANNEL_NAME", "OpsConfigError", "OpsInput"]
