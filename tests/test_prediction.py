"""Predictions: predict agrees with episodes; the calibrated file is the default."""

import json
import subprocess
import sys

import numpy as np
import pytest

from multivector.analysis.prediction import predict_file, predictions
from multivector.inputs.library import load_library
from multivector.inputs.parameters import (
    CALIBRATED,
    DOCUMENTED_DEFAULTS,
    default_parameter_file,
    load_parameters,
)
from multivector.runs.replay import replay_record
from tests.conftest import ROOT

CRIMEA = """
[[episode]]
id = "unga-68-262-crimea"
body = "UNGA"
date = "2014-03-27"
sponsors = ["UKR", "USA"]
target = "RUS"
issues = {issues}
observed = {{ KAZ = "yes" }}   # ignored
"""


@pytest.fixture(scope="module")
def parameters():
    return load_parameters()


def test_the_calibrated_file_is_what_runs_use_by_default(parameters):
    assert CALIBRATED.is_file(), "run `multivector calibrate` to write the calibrated file"
    assert default_parameter_file() == CALIBRATED and parameters.path == CALIBRATED
    calibration = parameters.spec.calibration
    assert calibration is not None
    assert calibration.library_sha256 == load_library().sha256, "calibration is stale"
    assert calibration.prior_sha256 == load_parameters(DOCUMENTED_DEFAULTS).sha256
    assert len(calibration.free) < calibration.decisions / 5
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "multivector",
            "run",
            "scenarios/history_2014_2026.toml",
            "--replicates",
            "2",
            "--out",
            "/tmp/mv-default-check",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["parameters"]["sha256"] == parameters.sha256


def test_the_calibrated_file_holds_its_own_estimate(parameters):
    from multivector.inputs.uncertainty import design, parameter_sets, point_parameters

    prior = load_parameters(DOCUMENTED_DEFAULTS)
    calibration = parameters.spec.calibration
    free = design(calibration.design, prior)
    weights, precision = parameter_sets(free, np.array([calibration.estimate]), prior)
    file_weights, file_precision = point_parameters(parameters)
    assert np.allclose(weights, file_weights, atol=1e-12)
    assert np.allclose(precision, file_precision, atol=1e-12)
    covariance = np.array(calibration.covariance)
    assert np.allclose(covariance, covariance.T) and (np.linalg.eigvalsh(covariance) > 0).all()


def test_predict_gives_the_probabilities_episodes_shows(parameters, tmp_path):
    library = load_library()
    issues = json.dumps(library.episodes["unga-68-262-crimea"].issues)
    query = tmp_path / "crimea.toml"
    query.write_text(CRIMEA.format(issues=issues))
    shown = {
        p.decider: p.probabilities
        for p in predictions(replay_record(parameters, library), {"unga-68-262-crimea"})
    }
    predicted = predict_file(query, parameters, draws=50, seed=3)
    assert {p.decider for p in predicted} == set(shown)
    for p in predicted:
        assert np.allclose(p.probabilities, shown[p.decider], atol=1e-12)
        assert p.observed is None  # observed choices in a query are ignored
        assert (p.low <= p.probabilities + 1e-9).all() and (p.probabilities <= p.high + 1e-9).all()


def test_predict_a_new_vote_with_intervals(parameters, tmp_path):
    query = tmp_path / "new.toml"
    query.write_text(
        '[[episode]]\nbody = "UNGA"\ndate = "2025-02-24"\nsponsors = ["UKR", "USA"]\n'
        'target = "RUS"\nissues = ["territorial_integrity", "use_of_force"]\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "multivector", "predict", str(query), "--json", "--draws", "40"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    kaz = next(d for d in payload["decisions"] if d["decider"] == "KAZ")
    # printed to four decimals, so three rounded probabilities sum to 1 within 1.5e-4
    assert abs(sum(kaz["probabilities"].values()) - 1) <= 1.5e-4
    for low, high in kaz["interval_90"].values():
        assert 0 <= low <= high <= 1
    assert payload["draws"] == 40


def test_predict_rejects_bad_files_with_one_line(tmp_path):
    cases = {
        "no-episodes.toml": "title = 'x'\n",
        "bad-body.toml": '[[episode]]\nbody = "UNHRC"\ndate = "2025-01"\n',
        "early.toml": '[[episode]]\nbody = "UNGA"\ndate = "2010-01"\n',
        "actor.toml": '[[episode]]\nbody = "UNGA"\ndate = "2025-01"\nsponsors = ["GBR"]\n',
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        done = subprocess.run(
            [sys.executable, "-m", "multivector", "predict", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 2, (name, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and name in done.stderr
