"""Run provenance: one Workflow Run RO-Crate per flow run, and reproduction of a run from its crate.

* :func:`record_flow_run` (:mod:`~tasks.provenance.record`) - the flows' hook: collects what the
  run read and wrote (input files and their SHA-256, parameters, protocol and product hashes,
  software versions, DuckLake and Icechunk snapshots, content hashes of the rows written,
  statistics and report) and writes ``{lake}/provenance/{yyyy}/{mm}/{flow}-{run_id}/ro-crate-metadata.json``;
* :mod:`~tasks.provenance.crate` - the crate's JSON-LD (Workflow Run RO-Crate 0.5 profiles), written and read;
* :mod:`~tasks.provenance.hashing` - content hashes of files and of lake rows;
* :mod:`~tasks.provenance.reproduce` - ``oceanlake reproduce``: re-runs a crate's steps against the
  recorded snapshots without writing, or refuses naming what changed.

See docs/provenance.md.
"""

from tasks.provenance.record import record_flow_run

__all__ = ["record_flow_run"]
