"""Provenance in the written outputs, checked against hashes computed here from the files.

Everything is read from what ``multivector run`` and ``multivector compare`` write (summary.json,
the Parquet schema metadata, drift.json), never from the functions that build it.
"""

import hashlib
import json
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import HISTORY, ROOT

DATA = ROOT / "model" / "data"
CPC = ROOT / "scenarios" / "cpc_shutdown_2022.toml"
PROVENANCE = (
    "scenario",
    "seed",
    "replicates",
    "package_version",
    "parameters",
    "library_sha256",
    "shock_templates_sha256",
    "span",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def library_sha256() -> str:
    """The library version as documented in ``Library.sha256``: one SHA-256 over every episode
    file, the reaction templates, every structural data file and the recorded votes with their
    posing rules, in path order, each file's name followed by its bytes."""
    files = [
        *(DATA / "episodes").glob("*.toml"),
        DATA / "reactions.toml",
        *(DATA / "structure").glob("*.toml"),
        *(DATA / "votes").glob("*"),
    ]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cli(*args: str) -> subprocess.CompletedProcess:
    """The command line, run as a separate process from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "multivector", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def run_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    result = cli("run", str(HISTORY), "--replicates", "5", "--seed", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def compare_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compare")
    result = cli("compare", str(HISTORY), str(CPC), "--replicates", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def check_run_provenance(meta: dict) -> None:
    """Every documented provenance field of a run of the history at seed 3, 5 replicates."""
    spec = tomllib.loads(HISTORY.read_text())
    scenario = meta["scenario"]
    assert scenario["name"] == spec["name"] == "history_2014_2026"
    assert scenario["question"] == spec["question"]
    assert Path(scenario["file"]).resolve() == HISTORY.resolve()
    assert scenario["sha256"] == sha256(HISTORY)
    assert scenario["shocks"] == [] and scenario["excluded_episodes"] == []
    assert scenario["overrides"] == {} and scenario["extra_episode_files"] == []
    assert scenario["start_from"] == "structural"
    assert meta["seed"] == 3
    assert meta["replicates"] == 5
    assert meta["package_version"] == version("multivector")
    # no parameter file named: the calibrated file (docs/scenarios.md, `parameters`)
    assert meta["parameters"]["file"] == "calibrated.toml"
    assert meta["parameters"]["sha256"] == sha256(DATA / "parameters" / "calibrated.toml")
    assert meta["library_sha256"] == library_sha256()
    assert meta["shock_templates_sha256"] == sha256(DATA / "shocks.toml")
    assert meta["span"] == {"start": spec["start"], "end": spec["end"]}


def test_summary_carries_the_provenance(run_out):
    summary = json.loads((run_out / "summary.json").read_text())
    check_run_provenance(summary)


@pytest.mark.parametrize("name", ["choices.parquet", "trajectories.parquet"])
def test_parquet_files_carry_the_same_provenance(run_out, name):
    summary = json.loads((run_out / "summary.json").read_text())
    metadata = pq.read_schema(run_out / name).metadata
    assert metadata is not None and b"multivector" in metadata, name
    meta = json.loads(metadata[b"multivector"])
    assert set(PROVENANCE) <= set(meta)
    check_run_provenance(meta)
    assert meta == {key: summary[key] for key in meta}


def test_outputs_are_of_the_run_they_describe(run_out):
    """The replicates the provenance names are the ones in the tables."""
    for name in ("choices.parquet", "trajectories.parquet"):
        replicates = pq.read_table(run_out / name, columns=["replicate"])["replicate"]
        assert sorted(set(replicates.to_pylist())) == [0, 1, 2, 3, 4], name


def test_library_hash_changes_with_any_library_file():
    """The recomputed hash is sensitive to every file it covers (so a match means something)."""
    files = sorted((DATA / "episodes").glob("*.toml"))
    assert len(files) >= 3
    full = library_sha256()
    digest = hashlib.sha256()
    for path in files:  # the episode files alone: not the documented library hash
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    assert digest.hexdigest() != full
    assert len(full) == 64 and full != hashlib.sha256(b"").hexdigest()


def test_drift_json_carries_both_runs_provenance(compare_out):
    drift = json.loads((compare_out / "cpc_shutdown_2022" / "drift.json").read_text())
    cpc = tomllib.loads(CPC.read_text())
    base = tomllib.loads(HISTORY.read_text())
    assert drift["seed"] == cpc["seed"]  # no --seed: the scenario's
    assert drift["replicates"] == 4
    assert drift["package_version"] == version("multivector")
    assert drift["span"] == {"start": cpc["start"], "end": cpc["end"]}
    for role, path, spec in (("baseline", HISTORY, base), ("scenario", CPC, cpc)):
        meta = drift[role]
        assert meta["name"] == spec["name"], role
        assert meta["question"] == spec["question"], role
        assert Path(meta["file"]).resolve() == path.resolve(), role
        assert meta["sha256"] == sha256(path), role
        assert meta["parameters"] == {
            "file": "calibrated.toml",
            "sha256": sha256(DATA / "parameters" / "calibrated.toml"),
        }, role
        assert meta["library_sha256"] == library_sha256(), role
        assert meta["excluded_episodes"] == [] and meta["overrides"] == {}, role
        assert meta["start_from"] == "structural", role
    assert drift["baseline"]["shocks"] == []
    [shock] = drift["scenario"]["shocks"]
    assert shock["name"] == cpc["shock"][0]["name"]
    assert shock["kind"] == cpc["shock"][0]["kind"]
