import hashlib
import json
import math
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import HISTORY, ROOT


def multivector(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "multivector", *args], capture_output=True, text=True, cwd=cwd
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
    assert summary["scenario"]["name"] == "history_2014_2026"
    assert len(summary["parameters"]["sha256"]) == 64 and summary["package_version"]
    years = [row["year"] for row in summary["alignment_by_year"]]
    assert years == list(range(2014, 2027))  # each December, and March 2026 for the last year
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
    validity = summary["face_validity"]
    assert validity["judged"] == len(validity["periods"]) >= 12
    assert 0 <= validity["agreeing"] <= validity["judged"]

    trajectories = pq.read_table(out / "trajectories.parquet")
    assert trajectories.num_rows == 30 * (12 * 12 + 3)  # January 2014 to March 2026
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
        "date.toml": HISTORY.read_text().replace('end = "2026-03"', 'end = "2026-13"'),
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
            HISTORY.read_text().replace("[record]\n", '[record]\nexclude = ["no-such-episode"]\n'),
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


def test_episodes_lists_every_documented_choice_beside_the_record():
    from multivector.actors import ACTORS
    from multivector.inputs.library import compile_plan, load_library
    from multivector.inputs.parameters import CALIBRATED
    from multivector.inputs.structure import build_structure

    done = multivector("episodes", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["parameters"] == {
        "file": CALIBRATED.name,
        "sha256": hashlib.sha256(CALIBRATED.read_bytes()).hexdigest(),
    }
    # what the library documents: every decider's recorded option at every decision
    structure = build_structure(2014 * 12, 2024 * 12 + 11)
    documented = {}
    for episode in load_library().episodes.values():
        for decision in compile_plan(episode, structure.stance, list(range(6))).decisions:
            for actor, option in decision.observed.items():
                documented[(decision.key, ACTORS[actor])] = (
                    decision.options,
                    decision.options[option],
                )
    rows = payload["decisions"]
    listed = [(row["decision"], row["decider"]) for row in rows]
    assert len(listed) == len(set(listed)), "a documented choice is listed twice"
    assert set(listed) == set(documented)
    assert len(documented) >= 100
    for row in rows:
        options, observed = documented[(row["decision"], row["decider"])]
        assert row["observed"] == observed, row["decision"]
        assert tuple(row["probabilities"]) == tuple(options), row["decision"]
        probabilities = list(row["probabilities"].values())
        assert all(0 <= p <= 1 for p in probabilities), row["decision"]
        # rounded to four places each
        assert math.isclose(sum(probabilities), 1, abs_tol=5e-5 * len(probabilities)), row
        assert row["episode"] == row["decision"].split("/")[0]


def test_calibrate_writes_the_file_it_is_given_and_reports_the_validation(tmp_path, monkeypatch):
    """The real command, on a smaller problem: the full calibration takes far longer.

    Only the scope is cut (six episodes and 18 routine recorded votes to the end of 2016, the
    log precision alone, one design, one rolling origin); the command's own fitting, rolling-
    origin and leave-one-episode-out validation, file writing and report are what run.
    """
    from typer.testing import CliRunner

    import multivector.analysis.calibration as calibration
    import multivector.inputs.library as library_module
    from multivector.cli.commands import app
    from multivector.inputs.parameters import CALIBRATED, load_parameters

    full = library_module.load_library()
    votes = [k for k, e in full.episodes.items() if e.kind == "un_vote"][:3]
    others = [k for k, e in full.episodes.items() if e.kind != "un_vote"][:3]
    # every 15th routine vote to 2016: some before the origin year to fit on, some in it
    routine = tuple(p for p in full.recorded if p.episode.date.year <= 2016)[::15]
    assert {p.episode.date.year for p in routine} >= {2014, 2015, 2016}
    small = replace(full, episodes={k: full.episodes[k] for k in votes + others}, recorded=routine)
    documented_choices = sum(
        len(e.observed) if e.kind == "un_vote" else sum(len(d.observed) for d in e.decision)
        for e in small.episodes.values()
    )
    routine_choices = sum(len(p.episode.observed) for p in routine)

    def choices_in(year) -> int:
        """Documented and routine choices of the years ``year`` accepts."""
        episodes = [*small.episodes.values(), *(p.episode for p in routine)]
        return sum(
            len(e.observed) if e.kind == "un_vote" else sum(len(d.observed) for d in e.decision)
            for e in episodes
            if year(int(str(e.date)[:4]))
        )

    real_design = calibration.design
    monkeypatch.setattr(library_module, "load_library", lambda: small)
    monkeypatch.setattr(calibration, "design", lambda name, prior: real_design(name, prior)[:1])
    monkeypatch.setattr(calibration, "ORIGINS", (2016,))

    shipped = CALIBRATED.read_bytes()
    shipped_mtime = CALIBRATED.stat().st_mtime_ns
    out, report = tmp_path / "fitted.toml", tmp_path / "report"
    done = CliRunner().invoke(
        app,
        ["calibrate", "--out", str(out), "--report", str(report), "--design", "shared", "--json"],
    )
    assert done.exit_code == 0, (done.output, done.exception)
    # --out is honoured: the shipped calibrated file is left exactly as it was
    assert CALIBRATED.read_bytes() == shipped and CALIBRATED.stat().st_mtime_ns == shipped_mtime

    summary = json.loads(done.stdout)
    assert summary["parameter_file"] == str(out)
    assert summary["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert summary["design"] == "shared" and list(summary["estimates"]) == ["precision"]
    assert list(summary["designs"]) == ["shared"]
    assert summary["fitted_before"] is None
    assert summary["episodes"] == 6 + len(routine)
    assert summary["decisions"] == documented_choices + routine_choices
    assert summary["by_category"]["routine"] == routine_choices
    assert summary["by_category"]["salient"] + summary["by_category"]["episode"] == (
        documented_choices
    )
    assert summary["library_sha256"] == small.sha256
    baselines = {"uniform", "frequency", "persistence", "vote_with_russia", "vote_with_china"}

    loo = summary["leave_one_episode_out"]
    # the folds are the library's six episodes; the routine votes are never held out
    assert loo["held_out_choices"] == documented_choices
    assert set(loo["baselines"]) == baselines
    for block in (summary["in_sample"], loo["in_sample"], loo["leave_one_episode_out"]):
        assert 0 < block["log_loss"] < 5 and 0 <= block["accuracy"] <= 1
    # the uniform baseline is log(options) averaged over the choices: between log 2 and log 4
    uniform = loo["baselines"]["uniform"]["log_loss"]
    assert math.log(2) <= uniform <= math.log(4)
    assert loo["leave_one_episode_out"]["log_loss"] < uniform

    oot = summary["rolling_origin"]
    assert oot["origins"] == [2016]
    # fitted on every choice before 2016, forecast every choice of 2016
    assert oot["by_year"]["2016"]["trained_on"] == choices_in(lambda y: y < 2016)
    assert (
        oot["by_year"]["2016"]["choices"]
        == oot["all"]["choices"]
        == choices_in(lambda y: y == 2016)
    )
    assert set(oot["all"]) == {"choices", "model", *baselines}
    assert math.log(2) <= oot["all"]["uniform"]["log_loss"] <= math.log(4)
    assert oot["all"]["model"]["log_loss"] < oot["all"]["uniform"]["log_loss"]
    assert summary["designs"]["shared"]["rolling_origin"] == oot["all"]["model"]
    # every option of every forecast choice is one forecast: one chosen, probabilities sum to 1
    bins = [r for r in oot["reliability"] if r["forecasts"]]
    forecast = oot["all"]["choices"]
    assert 2 * forecast <= sum(r["forecasts"] for r in bins) <= 4 * forecast
    assert math.isclose(sum(r["observed"] * r["forecasts"] for r in bins), forecast, abs_tol=0.01)
    assert math.isclose(
        sum(r["mean_forecast"] * r["forecasts"] for r in bins), forecast, abs_tol=0.01
    )

    text = (report / "report.md").read_text()
    assert "## Out of time (rolling origin)" in text
    assert "## Leave one episode out (the library's episodes)" in text
    for figure in ("weights.png", "reliability.png", "by_year.png", "choice_probabilities.png"):
        assert (report / figure).read_bytes()[:4] == b"\x89PNG", figure

    fitted = load_parameters(out)
    assert fitted.sha256 == summary["sha256"]
    assert fitted.spec.calibration is not None
    estimate = summary["estimates"]["precision"]["estimate"]
    assert math.isclose(fitted.spec.choice.precision, math.exp(estimate), rel_tol=1e-3)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on a TCP port (Linux's /proc/net tables)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            family = socket.AF_INET if len(words) == 4 else socket.AF_INET6
            found.add(socket.inet_ntop(family, words))
    return found


def test_listening_addresses_reads_the_kernel_table():
    with socket.socket() as loopback, socket.socket() as anywhere:
        loopback.bind(("127.0.0.1", 0))
        loopback.listen()
        anywhere.bind(("0.0.0.0", 0))
        anywhere.listen()
        assert _listening_addresses(loopback.getsockname()[1]) == {"127.0.0.1"}
        assert _listening_addresses(anywhere.getsockname()[1]) == {"0.0.0.0"}


def test_teach_serves_the_app_on_loopback_only(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "teach.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "multivector", "teach", "--port", str(port)],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    status, page = answer.status, answer.read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"multivector teach did not answer:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        assert status == 200 and b"<html" in page.lower()
        # bound to the loopback address alone, not to every interface
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("multivector teach did not stop on SIGTERM")
    assert code in (0, -15), log.read_text()[-3000:]
