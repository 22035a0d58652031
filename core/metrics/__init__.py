"""Prometheus metrics shared by every app and process."""
