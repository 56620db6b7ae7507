-- Argo profiles usable as surface-chlorophyll match-up points: good time and position QC,
-- a surface chlorophyll value, one row per profile (S files preferred over B/core files).
with source as (
    select * from argo_profiles
),

renamed as (
    select
        platform_number || '_' || lpad(cast(cycle_number as varchar), 3, '0')
            || case when direction = 'D' then 'D' else '' end as insitu_id,
        platform_number,
        cycle_number,
        direction,
        file_kind,
        time,
        latitude,
        longitude,
        chla_surface,
        chla_surface_rule,
        chla_surface_n,
        first_optical_depth,
        parameter_data_modes['CHLA'] as chla_data_mode,
        source_file
    from source
    where profile_index = 0
      and chla_surface is not null
      and coalesce(time_qc, '1') in ('1', '2', '5', '8')
      and coalesce(position_qc, '1') in ('1', '2', '5', '8')
),

final as (
    select * from renamed
    qualify row_number() over (
        partition by platform_number, cycle_number, direction
        order by case file_kind when 'bgc-s' then 0 when 'bgc-b' then 1 else 2 end
    ) = 1
)

select * from final
