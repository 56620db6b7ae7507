"""Helpers shared by the synthetic-data writers: fixed dates, UTC handling, compressed NetCDF variables."""

from __future__ import annotations

from datetime import UTC, datetime

import netCDF4

#: Creation / update date written in every Argo file and GDAC index (YYYYMMDDHHMISS), fixed for reproducibility.
CREATED = "20240601000000"
#: Date of cycle 1 of the sample and bad-file Argo floats (UTC).
SAMPLE_START = datetime(2024, 3, 1, tzinfo=UTC)


def as_utc(time: datetime) -> datetime:
    """Return ``time`` as an aware datetime; a naive datetime is taken as UTC."""
    return time if time.tzinfo else time.replace(tzinfo=UTC)


def compressed_var(
    ds: netCDF4.Dataset, name: str, dtype, dims: tuple, values, attrs: dict, drop, fill=None, scale=None
) -> None:
    """Write a zlib-compressed variable (level 4), unless ``name`` is in ``drop``.

    Args:
        ds: open dataset.
        name: variable name.
        dtype: NetCDF type (numpy dtype or code, or ``str``).
        dims: dimension names.
        values: data, unpacked (netCDF4 applies ``scale_factor`` when set).
        attrs: variable attributes.
        drop: names not to write (to build broken files).
        fill: ``_FillValue``, or None for the library default.
        scale: ``scale_factor`` (with ``add_offset`` 0.0) for packed variables, or None.

    """
    if name in drop:
        return
    var = ds.createVariable(name, dtype, dims, fill_value=fill, zlib=True, complevel=4)
    var.setncatts(attrs)
    if scale is not None:
        var.setncatts({"add_offset": 0.0, "scale_factor": scale})
    var[...] = values
