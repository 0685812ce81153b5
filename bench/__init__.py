"""Benchmark scripts (not tests): `python -m bench.simulate`; results go to bench/results/."""
