"""Form validators (`validate_<form>`), one per module."""
