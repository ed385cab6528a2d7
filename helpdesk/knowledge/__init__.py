"""FAQ knowledge base: loading, normalising, embedding, indexing, retrieving, evaluating."""

from helpdesk.knowledge.models import FaqEntry

__all__ = ["FaqEntry"]
