"""Findings and how they are printed: output formats and rule documentation."""
