"""Registry of in situ source kinds (data, xarray ``BACKEND_ENTRYPOINTS`` style).

Each kind lists the file-name patterns searched in folders/prefixes and its readers as
``"module:function"``; the first reader whose module's ``can_open(path)`` accepts the file opens it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tasks.errors import InvalidFile, UnknownSourceKind
from tasks.readers.base import ReadResult


@dataclass(frozen=True)
class SourceKind:
    """An in situ source kind: how to find its files and which readers open them."""

    name: str
    patterns: tuple[str, ...]
    readers: tuple[str, ...]
    description: str


INSITU_KINDS: dict[str, SourceKind] = {
    "argo": SourceKind(
        name="argo",
        patterns=("*_prof.nc", "*_Sprof.nc", "*_Bprof.nc", "*_meta.nc", "[RDBS]*_[0-9][0-9][0-9]*.nc"),
        readers=("tasks.readers.argo_meta:open_argo_meta", "tasks.readers.argo:open_argo"),
        description="Argo / BGC-Argo profile files (core, B, S; single-cycle and multi-profile) and meta files",
    ),
    "hypernets": SourceKind(
        name="hypernets",
        patterns=("*_W_*_L2A_REF_*.nc", "*_L_*_L2A_REF_*.nc"),
        readers=("tasks.readers.hypernets:open_hypernets",),
        description="HYPERNETS / PANTHYR water-network L2A reflectance files",
    ),
}


def source_kind(name: str) -> SourceKind:
    """Look up a source kind; the error lists the valid ones."""
    try:
        return INSITU_KINDS[name]
    except KeyError:
        raise UnknownSourceKind(
            f"unknown in situ source kind {name!r}; valid kinds: {', '.join(sorted(INSITU_KINDS))}") from None


#: Satellite reader families: ``open_<family>(path, product) -> Granule`` (the product definition
#: names its family in ``reader:``).
SATELLITE_READERS: dict[str, str] = {
    "obpg_l2": "tasks.readers.obpg_l2:open_obpg_l2",
    "obpg_l3m": "tasks.readers.obpg_l3m:open_obpg_l3m",
    "obpg_l3b": "tasks.readers.obpg_l3b:open_obpg_l3b",
    "olci_sen3": "tasks.readers.olci_sen3:open_olci_sen3",
    "cf_swath": "tasks.readers.cf_swath:open_cf_swath",
    "cf_grid": "tasks.readers.cf_grid:open_cf_grid",
}


def open_granule(product, path: Path):
    """Open one satellite file (or SAFE folder) with its product's reader family.

    Raises:
        UnknownSourceKind: when the definition names a reader family that is not registered.
    """
    entry = SATELLITE_READERS.get(product.reader)
    if entry is None:
        raise UnknownSourceKind(f"product {product.id}: unknown reader family {product.reader!r}; "
                                f"families: {', '.join(sorted(SATELLITE_READERS))}")
    module_name, function = entry.split(":")
    return getattr(importlib.import_module(module_name), function)(path, product)


def _resolve(entry: str) -> tuple[Callable[[Path], bool], Callable[[Path], ReadResult]]:
    module_name, function = entry.split(":")
    module = importlib.import_module(module_name)
    return module.can_open, getattr(module, function)


def open_file(kind: SourceKind, path: Path) -> ReadResult:
    """Open ``path`` with the first reader of ``kind`` that accepts it.

    Raises:
        InvalidFile: when no reader of the kind recognises the file.
    """
    for entry in kind.readers:
        can_open, opener = _resolve(entry)
        if can_open(path):
            return opener(path)
    raise InvalidFile(f"{path}: not a recognised {kind.name} file ({kind.description}); "
                      "check the file is complete and of the right family")
