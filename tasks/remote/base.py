"""What every remote adapter returns from a search."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable granule of a remote catalogue.

    Attributes:
        name: the granule's file (or SAFE folder) name, matched against the product's file patterns.
        url: the http(s) URL its bytes are downloaded from.
    """

    name: str
    url: str
