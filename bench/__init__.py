"""Benchmarks run by hand: `.venv/bin/python -m bench.kpi`, `.venv/bin/python -m bench.sla_sweep`."""
