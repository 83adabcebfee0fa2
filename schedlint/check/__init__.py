"""Checking files: discovery, the gate, documents, the per-file pipeline, the pool, cache, noqa, fixes."""
