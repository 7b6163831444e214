import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import HISTORY, ROOT


def multivector(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture(scope="module")
def history_outputs(tmp_path_factory):
    folders = []
    for name in ("first", "second"):
        out = tmp_path_factory.mktemp(name)
        done = multivector(
            "run", str(HISTORY), "--replicates", "30", "--seed", "7", "--out", str(out), "--json"
        )
        assert done.returncode == 0, done.stderr
        folders.append((out, done.stdout))
    return folders


def test_same_seed_gives_identical_files(history_outputs):
    (a, _), (b, _) = history_outputs
    for name in ("trajectories.parquet", "choices.parquet", "summary.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_history_run_writes_all_outputs_with_sane_values(history_outputs):
    out, stdout = history_outputs[0]
    summary = json.loads(stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["replicates"] == 30
    assert summary["scenario"]["name"] == "history_2014_2024"
    assert len(summary["parameters"]["sha256"]) == 64 and summary["package_version"]
    years = [row["year"] for row in summary["alignment_by_year"]]
    assert years == list(range(2014, 2025))
    for row in summary["alignment_by_year"]:
        for pole in ("RUS", "CHN", "USA"):
            q = row[pole]
            assert -1 <= q["p05"] <= q["median"] <= q["p95"] <= 1
        assert 0 <= row["balance"]["median"] <= 1
    decisions = summary["kazakhstan_decisions"]
    assert len(decisions) >= 20
    for d in decisions:
        if d["posed_share"] > 0:
            assert abs(sum(d["probabilities"].values()) - 1) < 1e-3
    assert summary["un_votes"]["KAZ-RUS"]["votes"] >= 10

    trajectories = pq.read_table(out / "trajectories.parquet")
    assert trajectories.num_rows == 30 * 132
    dependence = trajectories.select(
        [f"dependence_{c}" for c in ("RUS", "USA", "CHN", "BLR", "UKR")]
    ).to_pandas()
    assert np.allclose(dependence.sum(axis=1), 1.0) and (dependence.to_numpy() >= 0).all()
    assert (dependence["dependence_RUS"] > dependence["dependence_USA"]).all()
    meta = json.loads(trajectories.schema.metadata[b"multivector"])
    assert meta["seed"] == 7 and meta["parameters"]["sha256"] == summary["parameters"]["sha256"]
    choices = pq.read_table(out / "choices.parquet").to_pandas()
    assert set(choices["decider"]) == {"KAZ", "RUS", "USA", "CHN", "BLR", "UKR"}
    assert (choices["p_chosen"] > 0).all() and (choices["p_chosen"] <= 1).all()
    assert all(c in o for c, o in zip(choices["chosen"], choices["options"], strict=True))
    png = (out / "alignment.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_bad_scenario_is_one_line_and_exit_2(tmp_path):
    cases = {
        "syntax.toml": "name = \n",
        "empty.toml": "",
        "unknown.toml": HISTORY.read_text() + "\nfavourite_colour = 'blue'\n",
        "date.toml": HISTORY.read_text().replace('end = "2024-12"', 'end = "2024-13"'),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        out = tmp_path / f"out-{name}"
        done = multivector("run", str(path), "--out", str(out))
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(path) in lines[0], (name, done.stderr)
        assert "Traceback" not in done.stderr
        assert not out.exists()
    defaults = ROOT / "model" / "data" / "parameters" / "defaults.toml"
    (tmp_path / "negative.toml").write_text(
        defaults.read_text().replace("precision = 3.0", "precision = -1.0")
    )
    with_parameters = HISTORY.read_text().replace("seed = 7", 'seed = 7\nparameters = "{}"')
    more = {
        "exclude.toml": (
            HISTORY.read_text() + '\n[record]\nexclude = ["no-such-episode"]\n',
            "record.exclude[0]",
        ),
        "absent-parameters.toml": (with_parameters.format("absent.toml"), "parameters"),
        "negative-precision.toml": (with_parameters.format("negative.toml"), "choice.precision"),
    }
    for name, (text, field) in more.items():
        path = tmp_path / name
        path.write_text(text)
        out = tmp_path / f"out-{name}"
        done = multivector("run", str(path), "--replicates", "2", "--out", str(out))
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and field in lines[0], (name, done.stderr)
        assert not out.exists()
    missing = multivector("run", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_help_answers():
    done = multivector("--help")
    assert done.returncode == 0 and "run" in done.stdout
