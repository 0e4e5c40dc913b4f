"""Benchmarks: each script prints figures (see the README's speed table)."""
