"""Domain logic of oceanlake: readers, lake I/O, quality gates and ingestion, as plain functions."""
