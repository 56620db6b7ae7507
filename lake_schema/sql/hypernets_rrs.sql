-- HYPERNETS/PANTHYR remote-sensing reflectance spectra with their sequence geometry and flags,
-- one row per (sequence, viewing azimuth, wavelength); passed = no quality flag bit set.
with source as (
    select
        r.sequence_id,
        r.site,
        r.viewing_azimuth_angle,
        r.wavelength,
        r.bandwidth,
        r.rho_w,
        r.rho_w_uncertainty,
        r.rrs,
        r.rrs_uncertainty,
        s.time,
        s.latitude,
        s.longitude,
        s.solar_zenith_angle,
        s.viewing_zenith_angle,
        s.quality_flag,
        s.quality_flags
    from hypernets_reflectance as r
    join hypernets_sequences as s
        using (sequence_id, viewing_azimuth_angle)
),

final as (
    select
        *,
        coalesce(quality_flag, 0) = 0 as passed
    from source
)

select * from final
