"""How granules are decoded for ingestion: whole-variable reads, packed integers stored as in the file."""

from __future__ import annotations

from datetime import datetime

import netCDF4
import numpy as np
import pytest
import xarray as xr

import lake_schema
from tasks import ingest_satellite
from tasks.readers import satellite_common
from tasks.readers.registry import open_granule
from tasks.readers.satellite_common import open_tree, packed_source
from tasks.synthetic.obpg import write_pace_l2_aop

PACE_L3M = "satellite_pace/PACE_OCI.20240614.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc"


@pytest.fixture
def swath(tmp_path):
    return write_pace_l2_aop(tmp_path, datetime(2024, 6, 14, 12, 15), 36.0, -70.0, shape=(60, 40))


def _load(path, keep_sources: bool = True):
    product = lake_schema.product("pace-oci-l2-aop")
    granule = open_granule(product, path)
    if not keep_sources:  # the general path: decoded floats packed again by xarray's encoder
        ingest_satellite._without_packed_sources(granule.dataset)
    return ingest_satellite._load(product, granule.dataset)


def test_small_variables_are_one_chunk_and_large_ones_keep_the_file_chunks(swath, monkeypatch):
    tree = open_tree(swath)
    assert tree["geophysical_data/Rrs"].data.numblocks == (1, 1, 1)
    tree.close()
    monkeypatch.setattr(satellite_common, "WHOLE_VARIABLE_BYTES", 1000)  # Rrs is 60 x 40 x 172 float32
    tree = open_tree(swath)
    with netCDF4.Dataset(swath) as ds:
        file_chunks = ds["geophysical_data/Rrs"].chunking()
    expected = tuple(min(c, n) for c, n in zip(file_chunks, (60, 40, 172), strict=True))
    assert tree["geophysical_data/Rrs"].data.chunksize == expected
    assert tree["navigation_data/latitude"].data.numblocks == (1, 1)  # 9.6 kB: whole
    tree.close()


def test_packed_variables_are_stored_as_the_files_integers(swath, monkeypatch):
    """Same values, attributes, encoding and coverage band as decoding and packing again; no value changed."""
    packed_blocks = []
    real_pack = ingest_satellite._pack_block
    monkeypatch.setattr(ingest_satellite, "_pack_block", lambda *a: packed_blocks.append(a[-1]) or real_pack(*a))
    fast, fast_band = _load(swath)
    assert packed_blocks == []  # nothing decoded and packed again
    slow, slow_band = _load(swath, keep_sources=False)
    assert {"rrs", "rrs_uncertainty"} <= set(packed_blocks)
    with netCDF4.Dataset(swath) as ds:
        rrs = ds["geophysical_data/Rrs"]
        rrs.set_auto_maskandscale(False)
        raw = rrs[:]
    assert fast["rrs"].dtype == np.int16
    np.testing.assert_array_equal(fast["rrs"].values, raw)  # the file's integers, untouched
    for name in slow.variables:
        xr.testing.assert_identical(fast[name].variable, slow[name].variable)  # values, attributes
        assert fast[name].dtype == slow[name].dtype
        assert fast[name].encoding.keys() == slow[name].encoding.keys()
        assert satellite_common.PACKED_SOURCE not in fast[name].encoding
    assert fast_band.dims == slow_band.dims and fast_band.dtype == slow_band.dtype
    np.testing.assert_array_equal(fast_band.values, slow_band.values)
    assert np.isnan(fast_band.values).any() and np.isfinite(fast_band.values).any()  # masked and valid pixels


def test_a_changed_variable_is_not_taken_for_the_files_integers(swath):
    tree = open_tree(swath)
    rrs = tree["geophysical_data/Rrs"]
    assert packed_source(rrs) is not None
    assert packed_source((rrs * 2).assign_attrs(rrs.attrs)) is None  # new values: packed from the floats
    changed = rrs.isel(number_of_lines=slice(0, 10))
    changed.encoding.update(rrs.encoding)  # even with the encoding carried over
    assert packed_source(changed) is None
    tree.close()


def test_real_l3m_read_whole_equals_netcdf4(realdata):
    tree = open_tree(realdata / PACE_L3M)
    chl = tree["chlor_a"]
    assert chl.data.numblocks == (1, 1) and packed_source(chl) is None  # float32 in the file: nothing packed
    with netCDF4.Dataset(realdata / PACE_L3M) as ds:
        expected = ds["chlor_a"][:].filled(np.nan)
    np.testing.assert_array_equal(chl.values, expected)
    tree.close()


#: Real files with CF-packed int16 variables (scale_factor/add_offset, _FillValue): NetCDF-4, NetCDF-4
#: classic and NetCDF-3 (the same decoding path serves every reader family).
REAL_PACKED = {
    "ocean_model/cmems_mod_ibi_phy_my_0.083deg-3D_P1Y-m_thetao_9.83W-9.67W_34.00N-34.17N_0.51-1.56m_"
    "1993-01-01-2021-01-01.nc": "thetao",
    "ocean_model/Nordic_subset.nc": "temp",
    "ocean_model/Arctic20_1to5Feb_2016.nc": "temperature",
}


@pytest.mark.parametrize("relative", sorted(REAL_PACKED))
def test_real_packed_variables_decode_like_xarray_and_pack_back_to_the_files_integers(realdata, relative):
    path, name = realdata / relative, REAL_PACKED[relative]
    tree = open_tree(path)
    var = tree[name]
    with netCDF4.Dataset(path) as ds:
        ds[name].set_auto_maskandscale(False)
        raw = np.asarray(ds[name][:])
    with xr.open_dataset(path) as reference:  # xarray's own CF decoding of the whole file
        expected = reference[name]
        np.testing.assert_array_equal(var.values, expected.values)
        assert var.dtype == expected.dtype and var.attrs == expected.attrs
    source = packed_source(var)
    assert source is not None and source.dtype == raw.dtype
    np.testing.assert_array_equal(source.compute(), raw)  # what the cube stores for it
    repacked = ingest_satellite._packed_lazily(name, var.variable)  # the decoded floats packed again
    assert repacked.dtype == raw.dtype
    np.testing.assert_array_equal(repacked.values, raw)  # same integers: passing them through changes nothing
    tree.close()
