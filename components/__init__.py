"""Custom Rasa NLU components: Indonesian normalising tokenizer and e5 sentence featurizer,
the message length guard and the question router, and the Rasa-side extensions
(`components.extensions`, applied when a model with this pipeline is built, not on import).
"""
