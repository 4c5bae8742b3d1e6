"""Notebooks: drafts, sharing roles, the REST API and the live WebSocket consumer."""
