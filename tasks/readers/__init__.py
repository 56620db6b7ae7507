"""Readers, one module per file family; each exposes ``can_open(path)`` and ``open_<family>(path)``."""
