"""Custom Rasa NLU components: Indonesian normalising tokenizer and e5 sentence featurizer.

Rasa imports this package when it loads a model that uses these components, in the server
and in training; that is where the server speed-ups of `components.rasa_speedups` are applied.
"""

from components import rasa_speedups

rasa_speedups.apply()
