"""Tests of tasks.readers.argo_index on the three real GDAC index files (checked with gzip+csv here)."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import datetime

import pyarrow as pa
import pytest

from tasks.errors import InvalidFile
from tasks.readers.argo_index import can_open, filter_index, read_gdac_index

INDEX_FILES = [
    "ar_index_global_prof.txt.gz",
    "argo_bio-profile_index.txt.gz",
    "argo_synthetic-profile_index.txt.gz",
]


def _independent(path) -> list[dict]:
    with gzip.open(path, "rt") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@pytest.mark.parametrize("name", INDEX_FILES)
def test_real_index(realdata, name):
    """Row count, columns, types and first/last rows match a plain csv read."""
    path = realdata / "argo" / name
    assert can_open(path)
    expected = _independent(path)
    index = read_gdac_index(path)
    assert index.num_rows == len(expected)
    assert index.column_names == [*expected[0].keys(), "platform_number", "cycle_number", "direction"]
    assert index.schema.field("date").type == pa.timestamp("us")
    for i in (0, -1):
        row, ref = index.slice(i % index.num_rows, 1).to_pylist()[0], expected[i]
        assert row["file"] == ref["file"]
        assert row["date"] == datetime.strptime(ref["date"], "%Y%m%d%H%M%S")
        assert row["latitude"] == pytest.approx(float(ref["latitude"]))
        assert row["profiler_type"] == int(ref["profiler_type"])
        if "parameters" in ref:
            assert row["parameters"] == ref["parameters"].split()
            assert row["parameter_data_mode"] == ref["parameter_data_mode"]
        name_part = ref["file"].rsplit("/", 1)[1]
        assert row["platform_number"] == ref["file"].split("/")[1]
        assert row["cycle_number"] == int(name_part.split("_")[1][:3])
        assert row["direction"] == ("D" if name_part.endswith("D.nc") else "A")


def test_descending_and_file_object(realdata):
    """BR3902131_001D.nc -> cycle 1 direction D; reading from a file object gives the same table."""
    path = realdata / "argo" / "argo_bio-profile_index.txt.gz"
    index = read_gdac_index(path)
    with open(path, "rb") as fh:
        assert read_gdac_index(fh).equals(index)
    row = index.filter(
        pa.compute.equal(index["file"], "coriolis/3902131/profiles/BR3902131_001D.nc")
    ).to_pylist()[0]
    assert (row["platform_number"], row["cycle_number"], row["direction"]) == ("3902131", 1, "D")


def test_filter_index(realdata):
    """Filters by WMO, time window and box agree with a Python filter of the plain csv rows."""
    path = realdata / "argo" / "ar_index_global_prof.txt.gz"
    index = read_gdac_index(path)
    rows = [r for r in _independent(path) if r["latitude"] and r["longitude"]]
    box = (0.0, 10.0, -10.0, 0.0)
    expected = [
        r["file"]
        for r in rows
        if r["file"].split("/")[1] == "3902131"
        and "20180314" <= r["date"] < "20180501"
        and box[0] <= float(r["longitude"]) <= box[1]
        and box[2] <= float(r["latitude"]) <= box[3]
    ]
    got = filter_index(index, wmo=[3902131], start="2018-03-14", end=datetime(2018, 5, 1), bbox=box)
    assert got["file"].to_pylist() == expected and len(expected) > 0
    assert filter_index(index).num_rows == index.num_rows
    assert filter_index(index, wmo="0").num_rows == 0
    wrap = filter_index(index, bbox=(170.0, -170.0, -90.0, 90.0))
    assert all(abs(lon) >= 170 for lon in wrap["longitude"].to_pylist())


def test_not_an_index(tmp_path):
    """A text file without the header -> InvalidFile naming it; names are recognised with or without .gz."""
    bad = tmp_path / "ar_index_global_prof.txt"
    bad.write_text("# comment\nhello,world\n1,2\n")
    with pytest.raises(InvalidFile, match="file,date"):
        read_gdac_index(bad)
    with pytest.raises(InvalidFile, match="gzip"):
        read_gdac_index(io.BytesIO(b"\x1f\x8b\x08truncated"))
    assert can_open(bad) and not can_open(tmp_path / "index.csv")
