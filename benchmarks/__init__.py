"""Benchmarks: `make bench` runs every scenario and writes docs/performance.md."""
