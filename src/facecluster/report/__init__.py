"""Outputs for people: clusters.csv / summary.json, the report's figures and stage timings."""
