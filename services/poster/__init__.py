"""Poster service: stored rounds out to Discord (or the terminal)."""
