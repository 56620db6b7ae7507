-- Files ingested and objects quarantined per source kind and run.
with ingested as (
    select run_id, source_kind, count(*) as files_ingested, sum(n_rows) as rows_written,
           min(ingested_at) as started_at, max(ingested_at) as finished_at
    from ingested_files
    group by run_id, source_kind
),

rejected as (
    select run_id, source_kind, count(*) as objects_quarantined
    from quarantine
    group by run_id, source_kind
),

final as (
    select
        coalesce(i.run_id, r.run_id) as run_id,
        coalesce(i.source_kind, r.source_kind) as source_kind,
        coalesce(i.files_ingested, 0) as files_ingested,
        coalesce(i.rows_written, 0) as rows_written,
        coalesce(r.objects_quarantined, 0) as objects_quarantined,
        i.started_at,
        i.finished_at
    from ingested as i
    full outer join rejected as r using (run_id, source_kind)
)

select * from final
