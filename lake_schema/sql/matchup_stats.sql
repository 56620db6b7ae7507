-- Validation statistics of the primary passed match-ups per (insitu_source, product, protocol, variable,
-- wavelength, site, month of time_insitu): n, bias, median_bias, mae, mapd, rmsd, rpd, apd, log_bias,
-- log_mae, mdsa, slope/intercept OLS and RMA (linear space), r, r2, n_log_excluded, sspb; log metrics
-- over the pairs with both values > 0. Formulas: docs/validation.md (same numbers as oceanlake stats).
with source as (
    select
        insitu_source,
        product,
        protocol,
        variable,
        wavelength,
        site,
        date_trunc('month', time_insitu) as month,
        -- a pair counts only when both values are finite
        case when isfinite(sat_filtered_mean) and isfinite(insitu_value) then sat_filtered_mean end as sat,
        case when isfinite(sat_filtered_mean) and isfinite(insitu_value) then insitu_value end as insitu
    from matchups
    where passed and is_primary
),

renamed as (
    select
        *,
        sat - insitu as diff,
        case when insitu <> 0 then (sat - insitu) / insitu end as rel,
        case when sat > 0 and insitu > 0 then log10(sat) - log10(insitu) end as log_ratio
    from source
),

aggregated as (
    select
        insitu_source, product, protocol, variable, wavelength, site, month,
        count(diff) as n,
        count(log_ratio) as n_log,
        avg(diff) as bias,
        median(diff) as median_bias,
        avg(abs(diff)) as mae,
        median(abs(rel)) as med_abs_rel,
        avg(diff * diff) as mean_sq,
        avg(rel) as mean_rel,
        avg(abs(rel)) as mean_abs_rel,
        avg(log_ratio) as mean_lr,
        avg(abs(log_ratio)) as mean_abs_lr,
        median(log_ratio) as med_lr,
        median(abs(log_ratio)) as med_abs_lr,
        regr_sxx(sat, insitu) as sxx,
        regr_syy(sat, insitu) as syy,
        regr_sxy(sat, insitu) as sxy,
        regr_avgx(sat, insitu) as avgx,
        regr_avgy(sat, insitu) as avgy
    from renamed
    group by insitu_source, product, protocol, variable, wavelength, site, month
),

final as (
    select
        insitu_source, product, protocol, variable, wavelength, site, month,
        n,
        bias,
        median_bias,
        mae,
        100 * med_abs_rel as mapd,
        sqrt(mean_sq) as rmsd,
        100 * mean_rel as rpd,
        100 * mean_abs_rel as apd,
        pow(10, mean_lr) as log_bias,
        pow(10, mean_abs_lr) as log_mae,
        100 * (pow(10, med_abs_lr) - 1) as mdsa,
        case when n >= 2 and sxx > 0 then sxy / sxx end as slope_ols,
        case when n >= 2 and sxx > 0 then avgy - sxy / sxx * avgx end as intercept_ols,
        case when n >= 2 and sxx > 0 and syy > 0 then sign(sxy) * sqrt(syy / sxx) end as slope_rma,
        case when n >= 2 and sxx > 0 and syy > 0 then avgy - sign(sxy) * sqrt(syy / sxx) * avgx end as intercept_rma,
        case when n >= 2 and sxx > 0 and syy > 0 then sxy / sqrt(sxx * syy) end as r,
        case when n >= 2 and sxx > 0 and syy > 0 then sxy * sxy / (sxx * syy) end as r2,
        n - n_log as n_log_excluded,
        100 * sign(med_lr) * (pow(10, abs(med_lr)) - 1) as sspb
    from aggregated
)

select * from final
