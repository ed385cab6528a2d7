"""Operational figures for supervisors: the report, its CSV and JSON."""
