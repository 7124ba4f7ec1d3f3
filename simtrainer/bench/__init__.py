"""Benchmarks that print measured figures (`simtrainer bench ...`); targets live here, not in timed tests."""
