"""Shared fixtures: a short history run, computed once per test session."""

from pathlib import Path

import pytest

from multivector.inputs.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "scenarios" / "history_2014_2024.toml"


@pytest.fixture(scope="session")
def history() -> Scenario:
    return load_scenario(HISTORY)


@pytest.fixture(scope="session")
def history_run(history):
    from multivector.runs.runner import run_scenario

    return run_scenario(history, replicates=40, seed=11)
