"""Fault scenarios under load."""
