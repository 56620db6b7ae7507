"""Match-up engine: candidate search, pixel windows, protocol decisions, the ``matchups`` table."""
