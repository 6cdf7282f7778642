"""The Dagster layer: thin assets and checks over `observatory`, wired in `definitions.py`."""
