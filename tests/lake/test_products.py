"""Product definitions: every built-in definition loads, matches the field dictionary, names a reader."""

from __future__ import annotations

import textwrap

import pytest

import lake_schema
from lake_schema.definitions import load_products, parse_product
from tasks.readers.registry import SATELLITE_READERS

EXPECTED = {"pace-oci-l2-aop", "pace-oci-l3m", "olci-l2-wfr", "olci-c2rcc", "odatis-mr", "occi-l3",
            "globcolour-l3", "msi-acolite-l2w", "modis-l3b"}


def test_all_issue_products_are_defined_with_registered_readers():
    products = lake_schema.products()
    assert EXPECTED <= set(products)
    for product in products.values():
        assert product.reader in SATELLITE_READERS, product.id
        assert product.file_patterns, product.id
        assert product.main_variable in product.variables
        for var in product.variables.values():  # units are the dictionary's (checked at load time too)
            assert var.units == lake_schema.fields()[var.name].units


def test_user_products_folder_adds_a_definition(tmp_path):
    (tmp_path / "my-l3.yaml").write_text(textwrap.dedent("""
        id: my-l3
        title: My regional L3 chlorophyll
        sensor: OLCI
        platform: Sentinel-3
        provider: me
        reader: cf_grid
        geometry: grid
        file_patterns: ["MY_*.nc"]
        main_variable: chlor_a
        variables:
          chlor_a: {paths: [CHL], units: mg m-3}
    """))
    products = lake_schema.products((str(tmp_path),))
    assert products["my-l3"].variables["chlor_a"].paths == ("CHL",)
    assert "pace-oci-l3m" in products


@pytest.mark.parametrize("change, message", [
    ({"variables": {"chlorophyll": {"paths": ["CHL"], "units": "mg m-3"}}}, "not in lake_schema/fields.yaml"),
    ({"variables": {"chlor_a": {"paths": ["CHL"], "units": "ug/L"}}}, "differ from fields.yaml"),
    ({"geometry": "tiles"}, "geometry must be one of"),
    ({"main_variable": "rrs"}, "main_variable"),
])
def test_invalid_definitions_are_refused_with_the_reason(change, message):
    spec = {"id": "bad", "title": "t", "sensor": "s", "platform": "p", "provider": "x", "reader": "cf_grid",
            "geometry": "grid", "file_patterns": ["*.nc"], "main_variable": "chlor_a",
            "variables": {"chlor_a": {"paths": ["CHL"], "units": "mg m-3"}}}
    spec.update(change)
    with pytest.raises(ValueError, match=message):
        parse_product(spec, lake_schema.fields())


def test_file_name_must_equal_id(tmp_path):
    (tmp_path / "wrong-name.yaml").write_text(
        "id: other\ntitle: t\nsensor: s\nplatform: p\nprovider: x\nreader: cf_grid\ngeometry: grid\n"
        "file_patterns: ['*.nc']\nmain_variable: chlor_a\nvariables: {chlor_a: {paths: [CHL], units: mg m-3}}\n")
    with pytest.raises(ValueError, match="must equal the file name"):
        load_products(str(tmp_path))
