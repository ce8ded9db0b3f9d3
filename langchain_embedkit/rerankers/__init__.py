"""rerankers."""
