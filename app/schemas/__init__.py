"""API models: what clients send and receive, separate from the tables."""
