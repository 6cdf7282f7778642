"""Core of the observatories' pipeline: read -> harmonize -> validate -> build -> publish.

Importable without Dagster; the Dagster layer in `assets/` calls into these modules.
"""
