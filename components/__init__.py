"""Custom Rasa NLU components: Indonesian normalising tokenizer and e5 sentence featurizer,
the message length guard, the blended intent classifier (char n-grams + e5 with DIET) and the
question router, and the Rasa-side extensions
(`components.extensions`, applied when a model with this pipeline is built, not on import).
"""
