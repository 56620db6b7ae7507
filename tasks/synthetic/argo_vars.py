"""Argo variable definitions and NetCDF variable writers shared by the Argo file writer.

Per-parameter attributes are copied from the real S file ``SR6903247_001.nc``; fill value
99999. and JULD fill 999999. as in the Argo user manual.
"""

from __future__ import annotations

import netCDF4
import numpy as np

ARGO_FILL = 99999.0
JULD_FILL = 999999.0

#: Per-parameter attributes, copied from the real S file SR6903247_001.nc.
PARAM_ATTRS: dict[str, dict] = {
    "PRES": dict(
        long_name="Sea water pressure, equals 0 at sea-level",
        standard_name="sea_water_pressure",
        units="decibar",
        valid_min=0.0,
        valid_max=12000.0,
        C_format="%7.1f",
        FORTRAN_format="F7.1",
        resolution=0.1,
        axis="Z",
    ),
    "TEMP": dict(
        long_name="Sea temperature in-situ ITS-90 scale",
        standard_name="sea_water_temperature",
        units="degree_Celsius",
        valid_min=-2.5,
        valid_max=40.0,
        C_format="%9.3f",
        FORTRAN_format="F9.3",
        resolution=0.001,
    ),
    "PSAL": dict(
        long_name="Practical salinity",
        standard_name="sea_water_salinity",
        units="psu",
        valid_min=2.0,
        valid_max=41.0,
        C_format="%9.3f",
        FORTRAN_format="F9.3",
        resolution=0.001,
    ),
    "DOXY": dict(
        long_name="Dissolved oxygen",
        standard_name="moles_of_oxygen_per_unit_mass_in_sea_water",
        units="micromole/kg",
        valid_min=-5.0,
        valid_max=600.0,
        C_format="%9.3f",
        FORTRAN_format="F9.3",
        resolution=0.001,
    ),
    "DOWN_IRRADIANCE490": dict(
        long_name="Downwelling irradiance at 490 nanometers",
        units="W/m^2/nm",
        C_format="%.6f",
        FORTRAN_format="F.6",
        resolution=1e-06,
    ),
    "DOWNWELLING_PAR": dict(
        long_name="Downwelling photosynthetic available radiation",
        standard_name="downwelling_photosynthetic_photon_flux_in_sea_water",
        units="microMoleQuanta/m^2/sec",
        C_format="%.3f",
        FORTRAN_format="F.3",
        resolution=0.001,
    ),
    "CHLA": dict(
        long_name="Chlorophyll-A",
        standard_name="mass_concentration_of_chlorophyll_a_in_sea_water",
        units="mg/m3",
        C_format="%.3f",
        FORTRAN_format="F.3",
        resolution=0.025,
    ),
    "BBP700": dict(
        long_name="Particle backscattering at 700 nanometers",
        units="m-1",
        C_format="%.3f",
        FORTRAN_format="F.3",
        resolution=0.001,
    ),
}
CORE_PARAMS = ("PRES", "TEMP", "PSAL")
BGC_PARAMS = ("PRES", "TEMP", "PSAL", "DOXY", "DOWN_IRRADIANCE490", "DOWNWELLING_PAR", "CHLA", "BBP700")
ERROR_LONG_NAME = "Contains the error on the adjusted values as determined by the delayed mode QC process"


def params_of(kind: str) -> tuple[str, ...]:
    """Parameters of a file kind: :data:`CORE_PARAMS` for ``"core"``, else :data:`BGC_PARAMS`."""
    return CORE_PARAMS if kind == "core" else BGC_PARAMS


def chars_var(ds: netCDF4.Dataset, name: str, dims: tuple, text, attrs: dict) -> None:
    """Write a char variable from a str or nested list of str (space padded, Argo style)."""
    var = ds.createVariable(name, "S1", dims, fill_value=b" ")
    var.setncatts(attrs)
    width = len(ds.dimensions[dims[-1]])
    arr = np.array(text, dtype=f"U{width}")
    padded = np.char.ljust(arr, width)
    var[...] = netCDF4.stringtochar(padded.astype(f"S{width}"))


def qc_var(ds: netCDF4.Dataset, name: str, dims: tuple, values: np.ndarray, table: str) -> None:
    """Write a ``S1`` QC variable (fill ``b" "``) following Argo reference table ``table``."""
    var = ds.createVariable(name, "S1", dims, fill_value=b" ")
    var.setncatts(
        {
            "long_name": "quality flag" if table == "2" else name,
            "conventions": f"Argo reference table {table}",
        }
    )
    var[...] = values


def float_var(ds: netCDF4.Dataset, name: str, dims: tuple, values: np.ndarray, attrs: dict, dtype: str = "f4") -> None:
    """Write a float variable with fill 99999.; NaN in ``values`` becomes the fill value."""
    var = ds.createVariable(name, dtype, dims, fill_value=np.array(ARGO_FILL, dtype))
    # numeric attributes have the variable's type, as in the real files (float32 valid_min, resolution)
    var.setncatts({k: np.dtype(dtype).type(v) if isinstance(v, float) else v for k, v in attrs.items()})
    var[...] = np.where(np.isnan(values), ARGO_FILL, values)
