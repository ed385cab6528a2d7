"""Helpdesk services: plain Python, no Rasa imports.

Actions and connectors call into this package; it talks to SQL, FAISS and HTTP backends.
"""

__version__ = "0.1.0"
