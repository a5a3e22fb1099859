"""Reproducible benchmarks for the Lightning sync engine: see bench/README.md."""
