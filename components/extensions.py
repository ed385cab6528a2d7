"""The Rasa-side extensions of the assistant, applied when a model with our pipeline is built.

Nothing here runs on import. `apply()` is called by the pipeline's first component
(`components.length_guard.MessageLengthGuard`) when Rasa creates or loads it: in the Rasa
server when it loads the model, in `rasa train` and in `rasa test`, so every process that
works with the assistant's model gets the same behaviour, and a process that only imports a
module of this package (a test, a tool) gets none of it. It is idempotent.

- `helpdesk.security.logmask`: identifiers masked in every log record and warning of the process;
- `components.rasa_speedups`: the server speed-ups;
- `components.action_history`: actions are sent the recent part of a long session;
- `components.queue_leave`: "batal" in the agents' queue is answered at once;
- `components.action_outage`: a failing action server gets a polite reply, nothing saved.
"""

from __future__ import annotations

from components import action_history, action_outage, queue_leave, rasa_speedups
from helpdesk.security import logmask


def apply() -> None:
    """Apply every extension (once per process; later calls change nothing)."""
    logmask.install()
    rasa_speedups.apply()
    action_history.apply()
    queue_leave.apply()
    action_outage.apply()
