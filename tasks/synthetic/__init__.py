"""Sample data in the real file formats, small and deterministic, for the demo and the tests.

Argo files follow the Argo user manual layout of the real GDAC files (``3902131_Sprof.nc``,
``SR6903247_001.nc``, ``R6903247_001.nc``): same dimension names, char arrays, variable names and
attributes, ``_FillValue`` 99999., JULD in days since 1950-01-01. HYPERNETS files follow the
``hypernets_processor`` v2 water L2A layout (``wavelength x series``) and the PANTHYR layout.
Every generator takes a seed; the same arguments always give the same values.

Modules: :mod:`.argo` (profiles and Argo generators), :mod:`.argo_writer`, :mod:`.argo_header` and
:mod:`.argo_vars` (the NetCDF layout), :mod:`.hypernets`, :mod:`.panthyr` and :mod:`.optics`
(radiometry), :mod:`.gdac` (sample data set and GDAC index files), :mod:`.bad_files`.
"""

from .argo import (
    ArgoProfile,
    data_modes,
    float_profiles,
    float_track,
    juld_of,
    make_profile,
    profile_file_name,
    write_argo_profile,
    write_argo_sprof,
)
from .argo_vars import ARGO_FILL, BGC_PARAMS, CORE_PARAMS, JULD_FILL
from .argo_writer import write_argo_file
from .bad_files import write_bad_files
from .gdac import write_sample_dataset
from .grids import write_globcolour_l3 as write_globcolour_l3
from .grids import write_occi_l3 as write_occi_l3
from .grids import write_odatis_mr as write_odatis_mr
from .hypernets import HYPERNETS_WATER_FLAGS, write_hypernets_l2a
from .obpg import write_modis_l3b as write_modis_l3b
from .obpg import write_pace_l2_aop as write_pace_l2_aop
from .obpg import write_pace_l3m as write_pace_l3m
from .olci import write_acolite_l2w as write_acolite_l2w
from .olci import write_olci_wfr_sen3 as write_olci_wfr_sen3
from .olci import write_snap_c2rcc as write_snap_c2rcc
from .optics import solar_angles, water_reflectance
from .satellite_samples import write_satellite_samples as write_satellite_samples

#: Former private names of the single-module version, still used by tests.
_modes = data_modes
_track = float_track

__all__ = [
    "ARGO_FILL",
    "BGC_PARAMS",
    "CORE_PARAMS",
    "HYPERNETS_WATER_FLAGS",
    "JULD_FILL",
    "ArgoProfile",
    "data_modes",
    "float_profiles",
    "float_track",
    "juld_of",
    "make_profile",
    "profile_file_name",
    "solar_angles",
    "water_reflectance",
    "write_argo_file",
    "write_argo_profile",
    "write_argo_sprof",
    "write_bad_files",
    "write_hypernets_l2a",
    "write_sample_dataset",
]
