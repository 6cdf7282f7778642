"""Benchmarks of the pipeline, run by hand (see README.md); never imported by the tests."""
