-- Current satellite granules: one row per (product, granule_key), the newest processing of each
-- (older versions stay in granule_versions with replaced_by naming their successor).
with source as (
    select * from granule_versions
),

final as (
    select * exclude (is_current, replaced_by)
    from source
    where is_current
)

select * from final
