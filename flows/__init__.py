"""Prefect flows (thin wiring over ``tasks``) and the ``oceanlake`` command line."""
