"""discovery.json and the figures of a scenario discovery, written together."""

from pathlib import Path
from typing import Any

from multivector.analysis.discovery import Discovery
from multivector.analysis.sweep_results import SweepReader
from multivector.files import claimed, file_record, staged
from multivector.version import __version__
from multivector.viz.discovery_plots import discovery_figures


def discovery_record(discovery: Discovery, reader: SweepReader) -> dict[str, Any]:
    """Everything ``multivector discover --json`` prints: the findings and their provenance.

    The provenance names the sweep (its experiment, scenarios, seed and replicates, as its
    manifest records them, and the sha256 of its manifest and samples) and this package's
    version, so the figures can be traced to the runs they summarise.
    """
    manifest = reader.manifest
    sweep = {
        "results": str(reader.folder),
        "experiment": manifest["experiment"],
        "scenarios": manifest["scenarios"],
        "seed": manifest["seed"],
        "samples": manifest["samples"],
        "replicates_per_sample": manifest["replicates_per_sample"],
        "runs": manifest["runs"],
        "sweep_package_version": manifest.get("package_version"),
        "manifest_sha256": file_record(reader.folder / "manifest.json")["sha256"],
        "samples_sha256": file_record(reader.folder / "samples.parquet")["sha256"],
    }
    return {"sweep": sweep, **discovery.as_dict(), "package_version": __version__}


def write_discovery(discovery: Discovery, reader: SweepReader, out: Path) -> dict[str, Any]:
    """Write discovery.json and the figures into ``out`` (staged together); return the record.

    The folder is locked while written and marked complete (``complete.json``) last.
    """
    record = discovery_record(discovery, reader)
    with claimed(out), staged(complete=out) as files:
        figures = discovery_figures(discovery, out, files)
        record["figures"] = [str(path) for path in figures]
        files.json(out / "discovery.json", record)
    return record
