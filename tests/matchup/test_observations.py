"""Reading match-up observations: invalid positions, duplicates, spectra pivot, period filter."""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pytest

import lake_schema
from tasks.matchup.observations import read_observations


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("""create view argo_surface_chla as select * from (values
        ('6901_001', '6901', timestamp '2024-03-01 12:00', 43.5, 7.5, 0.3),
        ('6901_001', '6901', timestamp '2024-03-01 12:00', 43.5, 7.5, 0.3),
        ('6901_002', '6901', timestamp '2024-03-11 12:00', 'nan'::double, 7.5, 0.2),
        ('6901_003', '6901', timestamp '2024-03-21 12:00', 95.0, 7.5, 0.2),
        ('6901_004', '6901', timestamp '2024-03-31 12:00', 43.0, 359.5, 0.2),
        ('6901_005', '6901', timestamp '2024-04-10 12:00', 43.0, 7.0, 0.2)
    ) t(insitu_id, platform_number, time, latitude, longitude, chla_surface)""")
    c.execute("""create view hypernets_rrs as select * from (values
        ('VEIT_20240301T100000', 'VEIT', timestamp '2024-03-01 10:00', 45.3, 12.5, 400.0, 0.010, 0.0314, true),
        ('VEIT_20240301T100000', 'VEIT', timestamp '2024-03-01 10:00', 45.3, 12.5, 400.0, 0.012, 0.0377, true),
        ('VEIT_20240301T100000', 'VEIT', timestamp '2024-03-01 10:00', 45.3, 12.5, 560.0, 0.004, 0.0126, true),
        ('VEIT_20240301T120000', 'VEIT', timestamp '2024-03-01 12:00', 45.3, 12.5, 560.0, 0.005, 0.0157, true),
        ('VEIT_20240301T140000', 'VEIT', timestamp '2024-03-01 14:00', 45.3, 12.5, 560.0, 0.009, 0.0283, false)
    ) t(sequence_id, site, time, latitude, longitude, wavelength, rrs, rho_w, passed)""")
    return c


def test_scalar_observations_merge_duplicates_and_reject_bad_positions(con):
    obs = read_observations(con, lake_schema.insitu_source("argo"), ["chla"])
    assert obs.insitu_id.tolist() == ["6901_001", "6901_004", "6901_005"]
    assert obs.n_duplicates == 1
    assert [i for i, _ in obs.rejected] == ["6901_002", "6901_003"]
    assert "latitude=nan" in obs.rejected[0][1] and "latitude=95.0" in obs.rejected[1][1]
    assert obs.longitude.tolist() == [7.5, -0.5, 7.0]  # 359.5 -> -0.5
    assert obs.values["chla"].tolist() == [0.3, 0.2, 0.2] and obs.site.tolist() == ["6901"] * 3


def test_period_filter(con):
    obs = read_observations(con, lake_schema.insitu_source("argo"), ["chla"], start=datetime(2024, 3, 30),
                            end=datetime(2024, 4, 10, 12))
    assert obs.insitu_id.tolist() == ["6901_004"]


def test_spectra_pivot_average_repeats_and_apply_the_source_filter(con):
    obs = read_observations(con, lake_schema.insitu_source("hypernets"), ["rrs", "rho_w"])
    assert obs.insitu_id.tolist() == ["VEIT_20240301T100000", "VEIT_20240301T120000"]  # 14:00 flagged
    assert obs.wavelength.tolist() == [400.0, 560.0]
    assert obs.values["rrs"][0].tolist() == pytest.approx([0.011, 0.004])  # two azimuths averaged
    assert np.isnan(obs.values["rrs"][1, 0]) and obs.values["rrs"][1, 1] == pytest.approx(0.005)
    assert obs.n_duplicates == 1
