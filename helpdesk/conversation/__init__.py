"""What citizens type and see: identifiers and their validation, the greeting, the menu, dates
in Indonesian, service keywords and the shape of a question (plain Python, no rasa imports)."""
