"""Custom Rasa NLU components: Indonesian normalising tokenizer and e5 sentence featurizer."""
