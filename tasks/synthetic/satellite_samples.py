"""The demo's satellite files: a few granules of gridded and swath products near the sample floats/sites."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from ._common import SAMPLE_START
from .grids import write_occi_l3
from .olci import write_olci_wfr_sen3


def write_satellite_samples(out_dir: str | Path, n_days: int = 3) -> dict[str, list[Path]]:
    """Write OC-CCI v6 daily L3 files (Ligurian Sea box) and OLCI WFR SEN3 granules over the same area.

    Match-ups in the demo: the second sample float starts in the Ligurian Sea on the first day (OC-CCI),
    and one more OLCI granule (Sentinel-3B, baseline 004) passes over the VEIT HYPERNETS site on
    2024-05-01 at 10:05 UTC, between its 09:30 and 11:30 sequences.

    Args:
        out_dir: folder; files go to ``<out_dir>/<product id>/``.
        n_days: number of consecutive days from the sample start date (2024-03-01).

    Returns:
        Product id -> written files / SAFE folders.
    """
    out = Path(out_dir)
    days = [SAMPLE_START + timedelta(days=k) for k in range(n_days)]
    return {
        "occi-l3": [write_occi_l3(out / "occi-l3", day.date(), version="6.0", bbox=(5.0, 41.0, 10.0, 45.0), seed=k)
                    for k, day in enumerate(days)],
        "olci-l2-wfr": [write_olci_wfr_sen3(out / "olci-l2-wfr", day + timedelta(hours=9, minutes=50), 43.5, 7.5,
                                            shape=(120, 90), seed=k) for k, day in enumerate(days[:2])]
        + [write_olci_wfr_sen3(out / "olci-l2-wfr", datetime(2024, 5, 1, 10, 5), 45.3142, 12.5083, shape=(120, 90),
                               baseline="004", platform="S3B", seed=7)],
    }
