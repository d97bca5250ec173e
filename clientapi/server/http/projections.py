"""Projections over HTTP (placeholder until the projections subsystem provides its routes)."""
ROUTES: list = []
