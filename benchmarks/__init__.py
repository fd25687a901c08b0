"""Benchmarks: figures printed as tables, never pass/fail tests."""
