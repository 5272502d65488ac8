"""The experiment catalog: Chaos Toolkit files, the aftershock extension, loading and checks."""

from daemon.catalog.loader import (
    CatalogReport,
    FileResult,
    LoadedExperiment,
    LoadOptions,
    load_catalog,
    load_file,
)

__all__ = [
    "CatalogReport",
    "FileResult",
    "LoadOptions",
    "LoadedExperiment",
    "load_catalog",
    "load_file",
]
