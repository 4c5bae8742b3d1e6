"""Accounts: sign-in pages, API tokens for scripts, and the first admin."""
