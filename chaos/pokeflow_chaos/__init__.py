"""Helpers for the pokeflow Chaos Toolkit suite: local processes, faults, probes, the
load-and-timeline control, and the report. Experiments call them as python providers;
chaos/run.py drives whole runs."""
