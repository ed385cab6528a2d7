"""Custom Rasa NLU components: Indonesian normalising tokenizer and e5 sentence featurizer.

Rasa imports this package when it loads a model that uses these components, in the server
and in training; that is where the Rasa-side extensions are applied: the server speed-ups of
`components.rasa_speedups`, and `components.queue_leave` ("batal" in the agents' queue is
answered at once).
"""

from components import queue_leave, rasa_speedups

rasa_speedups.apply()
queue_leave.apply()
