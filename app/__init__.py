"""Territoire API: publishes a territorial project and its follow-up as open data."""
