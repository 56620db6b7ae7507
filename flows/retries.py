"""Retry policy shared by the flows' I/O tasks: retry transient failures only, never bad input."""

from __future__ import annotations

from tasks.lake import is_transient


def retry_transient(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: True when the failure is transient (catalog lock, network)."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - we only classify it
        return is_transient(exc)
    return False
