"""Settings in one place (argopy ``options.py`` style): the only module that reads ``os.environ``.

Environment variables (all optional):

==========================  ==================================================================
``OCEANLAKE_LAKE``          lake root: a local path (default ``./lake``) or ``s3://bucket/prefix``
``OCEANLAKE_CATALOG``       DuckLake catalog: ``sqlite:PATH`` (default ``<lake>/catalog.sqlite``
                            for a local lake), ``duckdb:PATH`` or ``postgres:dbname=.. host=..``
``OCEANLAKE_CACHE``         download cache and local catalogs of S3 lakes (``~/.cache/oceanlake``)
``OCEANLAKE_S3_ENDPOINT``   S3 endpoint URL for non-AWS stores (MinIO, moto), e.g. ``http://127.0.0.1:9000``
``AWS_ACCESS_KEY_ID``       S3 key id (never logged)
``AWS_SECRET_ACCESS_KEY``   S3 secret (never logged)
``AWS_REGION``              S3 region (default ``us-east-1``)
``OCEANLAKE_THREADS``       DuckDB threads (default: all cores)
``OCEANLAKE_MEMORY_LIMIT``  DuckDB memory limit, e.g. ``4GB``
``OCEANLAKE_PRODUCTS``      extra folders of product definitions (``:``-separated), added to the built-in ones
``OCEANLAKE_PROTOCOLS``     extra folders of match-up protocol definitions (``:``-separated)
==========================  ==================================================================

Daily pipeline (``oceanlake run daily|backfill``, flows ``daily`` and ``backfill``; see ``docs/operations.md``):

===============================  =============================================================
``OCEANLAKE_PIPELINE_CONFIG``    pipeline config YAML (sources, match-up combinations, report);
                                 example: ``deployments/pipeline.example.yaml``
``OCEANLAKE_DASK_ADDRESS``       Dask scheduler of ``backfill`` with the dask task runner
                                 (``DASK_SCHEDULER_ADDRESS`` also read); default: a LocalCluster
``OCEANLAKE_TEST_COMMIT_DELAY``  test-only fault hook, ``SECONDS[@N]``: sleep before the N-th (or
                                 every) lake COMMIT of the process, after logging a marker line
===============================  =============================================================

Remote catalogues (SOURCE ``cmr://``, ``cdse://``, ``cmems://``; see ``docs/remote-sources.md``):

================================  ============================================================
``OCEANLAKE_EARTHDATA_TOKEN``     NASA Earthdata Login bearer token for ``cmr://`` downloads (never logged)
``OCEANLAKE_NETRC``               netrc file with an ``urs.earthdata.nasa.gov`` login (default ``$NETRC``
                                  or ``~/.netrc``), used when no token is set
``OCEANLAKE_CMR_URL``             CMR root (default ``https://cmr.earthdata.nasa.gov``)
``OCEANLAKE_CDSE_USER``           Copernicus Data Space Ecosystem user name for ``cdse://`` downloads
``OCEANLAKE_CDSE_PASSWORD``       its password (never logged)
``OCEANLAKE_CDSE_CATALOGUE_URL``  OData catalogue root (default ``https://catalogue.dataspace.copernicus.eu/odata/v1``)
``OCEANLAKE_CDSE_DOWNLOAD_URL``   OData download root (default ``https://download.dataspace.copernicus.eu/odata/v1``)
``OCEANLAKE_CDSE_TOKEN_URL``      Keycloak token endpoint of CDSE
``OCEANLAKE_CMEMS_CONFIG_URL``    Copernicus Marine clients configuration (default
                                  ``https://stac.marine.copernicus.eu/clients-config-v1``)
``OCEANLAKE_HTTP_RETRIES``        retries of transient HTTP failures (429, 5xx, resets; default 4)
``OCEANLAKE_HTTP_BACKOFF``        first retry delay in seconds, doubled at each retry (default 1)
``OCEANLAKE_HTTP_TIMEOUT``        socket timeout of remote requests in seconds (default 60)
================================  ============================================================
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError


@dataclass(frozen=True)
class S3Credentials:
    """Credentials of an S3-compatible store; ``repr`` hides the secret."""

    key_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    region: str = "us-east-1"

    @property
    def use_ssl(self) -> bool:
        """Whether the endpoint is HTTPS (AWS when no endpoint is set)."""
        return not (self.endpoint or "").startswith("http://")

    @property
    def endpoint_host(self) -> str | None:
        """Endpoint without scheme, as DuckDB wants it (``127.0.0.1:9000``)."""
        if not self.endpoint:
            return None
        return self.endpoint.split("://", 1)[-1].rstrip("/")

    def storage_options(self) -> dict:
        """fsspec/s3fs keyword arguments."""
        opts: dict = {"key": self.key_id, "secret": self.secret}
        if self.endpoint:
            opts["client_kwargs"] = {"endpoint_url": self.endpoint, "region_name": self.region}
        return opts


@dataclass(frozen=True)
class RemoteSettings:
    """Endpoints and credentials of the remote catalogues (``cmr://``, ``cdse://``, ``cmems://``); repr hides secrets.

    A flow holding credentials in Prefect secret blocks passes them with
    ``dataclasses.replace(settings, remote=dataclasses.replace(settings.remote, cdse_password=...))``.
    """

    earthdata_token: str | None = field(default=None, repr=False)
    netrc: Path | None = None
    cmr_url: str = "https://cmr.earthdata.nasa.gov"
    cdse_user: str | None = None
    cdse_password: str | None = field(default=None, repr=False)
    cdse_catalogue_url: str = "https://catalogue.dataspace.copernicus.eu/odata/v1"
    cdse_download_url: str = "https://download.dataspace.copernicus.eu/odata/v1"
    cdse_token_url: str = "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
    cmems_config_url: str = "https://stac.marine.copernicus.eu/clients-config-v1"
    retries: int = 4
    backoff: float = 1.0  # seconds before the first retry, doubled at each retry
    timeout: float = 60.0  # seconds


@dataclass(frozen=True)
class Settings:
    """Validated settings of one run. Build with :func:`load_settings`."""

    lake: str
    catalog: str
    cache_dir: Path
    s3: S3Credentials
    threads: int | None = None
    memory_limit: str | None = None
    product_dirs: tuple[str, ...] = ()
    protocol_dirs: tuple[str, ...] = ()
    remote: RemoteSettings = field(default_factory=RemoteSettings)
    pipeline_config: str | None = None
    dask_address: str | None = None
    test_commit_delay: tuple[float, int | None] | None = None  # (seconds, n-th commit or None = every commit)

    @property
    def is_s3(self) -> bool:
        """True when the lake lives on an S3-compatible object store."""
        return self.lake.startswith("s3://")

    def lake_path(self, *parts: str) -> str:
        """A path or URL under the lake root (``/`` separated, no trailing slash)."""
        return "/".join([self.lake.rstrip("/"), *parts])

    def with_lake(self, lake: str) -> Settings:
        """Copy of these settings for another lake (catalog re-derived)."""
        return load_settings(lake=lake, catalog=None, base=self)


def _default_catalog(lake: str, cache_dir: Path) -> str:
    if lake.startswith("s3://"):
        digest = hashlib.sha1(lake.encode()).hexdigest()[:12]
        return f"sqlite:{cache_dir / 'catalogs' / f'{digest}.sqlite'}"
    return f"sqlite:{Path(lake) / 'catalog.sqlite'}"


def _validate_lake(lake: str) -> str:
    if "://" in lake and not lake.startswith("s3://"):
        raise ConfigError(f"lake URL {lake!r}: only local paths and s3://bucket/prefix are supported")
    if lake.startswith("s3://") and len(lake) <= len("s3://"):
        raise ConfigError("lake URL 's3://' needs a bucket name: s3://bucket/prefix")
    return lake if lake.startswith("s3://") else str(Path(lake).expanduser().resolve())


def _validate_catalog(catalog: str) -> str:
    kind = catalog.split(":", 1)[0]
    if kind not in {"sqlite", "duckdb", "postgres"}:
        raise ConfigError(
            f"catalog {catalog!r}: use sqlite:PATH, duckdb:PATH or postgres:dbname=... host=..."
        )
    return catalog


def _remote_settings(env) -> RemoteSettings:
    """Remote catalogue settings from the environment, validated."""
    urls = {name: env.get(var) or getattr(RemoteSettings, name) for name, var in (
        ("cmr_url", "OCEANLAKE_CMR_URL"), ("cdse_catalogue_url", "OCEANLAKE_CDSE_CATALOGUE_URL"),
        ("cdse_download_url", "OCEANLAKE_CDSE_DOWNLOAD_URL"), ("cdse_token_url", "OCEANLAKE_CDSE_TOKEN_URL"),
        ("cmems_config_url", "OCEANLAKE_CMEMS_CONFIG_URL"))}
    for name, url in urls.items():
        if not url.startswith(("https://", "http://")):
            raise ConfigError(f"{name.upper()} {url!r}: an http(s):// URL is needed (OCEANLAKE_{name.upper()})")
    try:
        retries = int(env.get("OCEANLAKE_HTTP_RETRIES", RemoteSettings.retries))
        backoff = float(env.get("OCEANLAKE_HTTP_BACKOFF", RemoteSettings.backoff))
        timeout = float(env.get("OCEANLAKE_HTTP_TIMEOUT", RemoteSettings.timeout))
    except ValueError as exc:
        raise ConfigError(f"OCEANLAKE_HTTP_RETRIES/_BACKOFF/_TIMEOUT must be numbers: {exc}") from None
    if retries < 0 or backoff < 0 or timeout <= 0:
        raise ConfigError("OCEANLAKE_HTTP_RETRIES and OCEANLAKE_HTTP_BACKOFF must be >= 0, OCEANLAKE_HTTP_TIMEOUT > 0")
    netrc = env.get("OCEANLAKE_NETRC") or env.get("NETRC") or "~/.netrc"
    return RemoteSettings(earthdata_token=env.get("OCEANLAKE_EARTHDATA_TOKEN") or None,
                          netrc=Path(netrc).expanduser(), cdse_user=env.get("OCEANLAKE_CDSE_USER") or None,
                          cdse_password=env.get("OCEANLAKE_CDSE_PASSWORD") or None, retries=retries,
                          backoff=backoff, timeout=timeout, **{k: v.rstrip("/") for k, v in urls.items()})


def load_settings(
    lake: str | None = None,
    catalog: str | None = None,
    base: Settings | None = None,
) -> Settings:
    """Settings from explicit arguments, then environment variables, then defaults.

    Args:
        lake: lake root (local path or ``s3://bucket/prefix``); overrides ``OCEANLAKE_LAKE``.
        catalog: DuckLake catalog spec; overrides ``OCEANLAKE_CATALOG``.
        base: settings to copy credentials and tuning from (used by :meth:`Settings.with_lake`).
    """
    env = os.environ
    cache_dir = base.cache_dir if base else Path(env.get("OCEANLAKE_CACHE", "~/.cache/oceanlake")).expanduser()
    lake = _validate_lake(lake or env.get("OCEANLAKE_LAKE") or "./lake")
    catalog = catalog or (None if base else env.get("OCEANLAKE_CATALOG")) or _default_catalog(lake, cache_dir)
    s3 = base.s3 if base else S3Credentials(
        key_id=env.get("AWS_ACCESS_KEY_ID"),
        secret=env.get("AWS_SECRET_ACCESS_KEY"),
        endpoint=env.get("OCEANLAKE_S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL"),
        region=env.get("AWS_REGION", "us-east-1"),
    )
    threads = base.threads if base else (int(env["OCEANLAKE_THREADS"]) if env.get("OCEANLAKE_THREADS") else None)
    memory = base.memory_limit if base else env.get("OCEANLAKE_MEMORY_LIMIT")
    product_dirs = base.product_dirs if base else tuple(p for p in env.get("OCEANLAKE_PRODUCTS", "").split(":") if p)
    protocol_dirs = base.protocol_dirs if base else tuple(
        p for p in env.get("OCEANLAKE_PROTOCOLS", "").split(":") if p)
    remote = base.remote if base else _remote_settings(env)
    pipeline_config = base.pipeline_config if base else (env.get("OCEANLAKE_PIPELINE_CONFIG") or None)
    dask_address = base.dask_address if base else (
        env.get("OCEANLAKE_DASK_ADDRESS") or env.get("DASK_SCHEDULER_ADDRESS") or None)
    commit_delay = base.test_commit_delay if base else _commit_delay(env.get("OCEANLAKE_TEST_COMMIT_DELAY"))
    return Settings(lake=lake, catalog=_validate_catalog(catalog), cache_dir=cache_dir, s3=s3,
                    threads=threads, memory_limit=memory, product_dirs=product_dirs, protocol_dirs=protocol_dirs,
                    remote=remote, pipeline_config=pipeline_config, dask_address=dask_address,
                    test_commit_delay=commit_delay)


def _commit_delay(value: str | None) -> tuple[float, int | None] | None:
    """Parse the test-only ``OCEANLAKE_TEST_COMMIT_DELAY`` hook: ``SECONDS`` or ``SECONDS@N``."""
    if not value:
        return None
    seconds, _, nth = value.partition("@")
    try:
        parsed = (float(seconds), int(nth) if nth else None)
    except ValueError:
        raise ConfigError(f"OCEANLAKE_TEST_COMMIT_DELAY {value!r}: use SECONDS or SECONDS@N (N-th commit)") from None
    if parsed[0] < 0 or (parsed[1] is not None and parsed[1] < 1):
        raise ConfigError(f"OCEANLAKE_TEST_COMMIT_DELAY {value!r}: SECONDS >= 0 and N >= 1")
    return parsed
