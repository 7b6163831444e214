"""Shared fixtures: a short history run, computed once per test session."""

import csv
from pathlib import Path

import pytest

from multivector.inputs.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "scenarios" / "history_2014_2026.toml"
SHARED_VOTES = ROOT.parent / "shared" / "facts" / "unga_votes" / "unga_votes_2014_2024.csv"
"""The shared record of recorded UN votes the project's copy was taken from."""


def write_vote_rows(path: Path, fields: list[str], rows: list[dict[str, str]]) -> Path:
    """Write rows of a votes file (columns ``fields``; keys beyond them are left out)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def history() -> Scenario:
    return load_scenario(HISTORY)


@pytest.fixture(scope="session")
def history_run(history):
    from multivector.runs.runner import run_scenario

    return run_scenario(history, replicates=40, seed=11)
