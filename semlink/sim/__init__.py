"""Scenarios, runs, evaluation and reports."""
