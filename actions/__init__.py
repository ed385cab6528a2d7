"""Rasa custom actions and form validators of the helpdesk assistant (one per module).

The action server imports this package before it answers any call: identifiers are masked in
every log record from then on (`helpdesk.security.logmask`).
"""

from helpdesk.security import logmask

logmask.install()
