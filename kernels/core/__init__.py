"""Quire's execution engine: plain Python, no Django; runs notebook cells by position."""
