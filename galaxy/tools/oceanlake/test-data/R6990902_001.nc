This is not a NetCDF file, just text with a .nc suffix.
