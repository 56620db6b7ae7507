"""Exceptions of oceanlake (one module, argopy ``errors.py`` style)."""

from __future__ import annotations


class OceanlakeError(Exception):
    """Raised for any oceanlake-specific failure (base class)."""


class InvalidFile(OceanlakeError, ValueError):
    """Raised when a file cannot be read as the family it claims to be (corrupt, truncated, wrong format)."""


class MissingVariable(InvalidFile):
    """Raised when a file lacks a variable its reader or product definition requires."""


class RefusedFile(InvalidFile):
    """Raised when a readable file is deliberately refused (e.g. a HYPERNETS land-network file)."""


class UnknownSourceKind(OceanlakeError, KeyError):
    """Raised when an in situ source kind or product id is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class SourceNotFound(OceanlakeError, FileNotFoundError):
    """Raised when a SOURCE (file, folder, glob, s3:// prefix or URL) matches nothing."""


class TransientError(OceanlakeError):
    """Raised for failures worth retrying (catalog lock, write-write conflict, network hiccup)."""


class QualityGateFailed(OceanlakeError):
    """Raised when a batch fails its great-expectations suite and must not be published."""


class ConfigError(OceanlakeError, ValueError):
    """Raised when a setting (lake URL, catalog URL, credentials) is invalid."""
