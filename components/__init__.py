"""Custom Rasa NLU components: Indonesian normalising tokenizer and e5 sentence featurizer.

Rasa imports this package when it loads a model that uses these components, in the server
and in training; that is where the Rasa-side extensions are applied: the server speed-ups of
`components.rasa_speedups`, and `components.queue_leave` ("batal" in the agents' queue is
answered at once), and the masking of identifiers in every log record and warning
(`helpdesk.logmask`).
"""

from components import action_outage, queue_leave, rasa_speedups
from helpdesk import logmask

logmask.install()
rasa_speedups.apply()
queue_leave.apply()
action_outage.apply()  # a failing action server: a polite reply, nothing saved
