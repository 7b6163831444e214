"""Class sessions without a browser: the store, a student's run, the instructor's view, export."""

import csv
import io
import json
import os
import sqlite3
import stat

import numpy as np
import pytest
from typer.testing import CliRunner

from multivector.actors import INDEX, POLES
from multivector.app.classroom import (
    CSV_COLUMNS,
    ClassError,
    ClassStore,
    StudentRun,
    class_view,
    clean_code,
    clean_nickname,
    export_class,
    export_csv,
    export_rows,
    open_class,
)
from multivector.app.teaching import TeachingModel
from multivector.cli.commands import app
from multivector.errors import InputError

BLOCKADE = "russian_transit_blockade_2025.toml"  # ten decisions over three years: quick to play
RUNS = 20
runner = CliRunner()


@pytest.fixture
def store(tmp_path):
    return ClassStore(tmp_path / "room.sqlite")


@pytest.fixture
def session(store):
    return store.create_class("Period 3", BLOCKADE, seed=11, replicates=RUNS)


def play(run: StudentRun, moves: int | None = None, pick: int = 0) -> int:
    """Make ``moves`` choices (all, if None), option ``pick + k`` at the k-th; returns made."""
    made = 0
    while not run.finished and (moves is None or made < moves):
        pending = run.model.pending()
        if not pending:
            run.run_on()
            continue
        decision = pending[0]
        run.choose(decision.key, decision.options[(pick + made) % len(decision.options)])
        made += 1
    return made


def stored_rows(store: ClassStore) -> list[tuple]:
    with sqlite3.connect(store.path) as db:
        return db.execute(
            "SELECT nickname, seq, decision_key, option FROM choice"
            " JOIN student ON student.id = student_id ORDER BY student.id, seq"
        ).fetchall()


# --- the store -------------------------------------------------------------------------------


def test_a_class_has_a_code_and_a_secret_token(store, session):
    assert len(session.code) == 6 and clean_code(session.code.lower()) == session.code
    assert len(session.token) >= 30
    assert store.class_by_token(session.token) == session
    assert store.class_by_token(session.code) is None  # a code does not open the teacher's page
    assert store.class_by_token("x" * 32) is None
    assert store.class_by_token("'; DROP TABLE class; --") is None
    # the file holds the token: only its owner may read it
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    with pytest.raises(ClassError, match="already a class called"):
        store.create_class("Period 3", BLOCKADE)


@pytest.mark.parametrize(
    ("code", "nickname", "problem"),
    [
        ("", "Ann", "join code is 6"),
        ("ABC", "Ann", "join code is 6"),
        ("ABCDE0", "Ann", "join code is 6"),  # 0 is not in the alphabet
        (None, "Ann", "join code is 6"),
        ("code", "", "Enter a nickname"),
        ("code", "   ", "Enter a nickname"),
        ("code", "x" * 25, "at most 24"),
        ("code", "Ann\u202egnp", "control characters"),
        ("code", "<script>", "control characters or < >"),
        ("code", "Ann\nBob", None),  # whitespace collapses: "Ann Bob"
    ],
)
def test_joining_checks_what_is_typed(store, session, code, nickname, problem):
    code = session.code if code == "code" else code
    if problem is None:
        assert store.join(code, nickname).nickname == "Ann Bob"
        return
    with pytest.raises(ClassError, match=problem):
        store.join(code, nickname)
    assert store.students(session.id) == []


def test_a_nickname_is_taken_once_per_class(store, session):
    ann = store.join(session.code, "Ann")
    with pytest.raises(ClassError, match="already called 'ANN'"):
        store.join(session.code, "ANN")  # case does not make another student
    other = store.create_class("Period 4", BLOCKADE)
    assert store.join(other.code, "Ann").token != ann.token
    with pytest.raises(ClassError, match="No class has the code"):
        store.join("ZZZZZZ" if session.code != "ZZZZZZ" else "YYYYYY", "Bo")
    assert clean_nickname("  Ann   Lee ") == "Ann Lee"


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    notes = tmp_path / "notes.sqlite"
    notes.write_text("my lesson notes")
    with pytest.raises(InputError, match="not a Multivector class store"):
        ClassStore(notes)
    assert notes.read_text() == "my lesson notes"
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', 'somebody-else')")
    with pytest.raises(InputError, match="meta.schema"):
        ClassStore(other)
    with pytest.raises(InputError, match="is a folder"):
        ClassStore(tmp_path)


def test_reopening_a_class_by_name_keeps_it(store, session):
    again, started = open_class(store, "Period 3")
    assert (again, started) == (session, False)
    with pytest.raises(ClassError, match="with seed 11, not 12"):
        open_class(store, "Period 3", seed="12")
    fresh, started = open_class(store, "Period 5", BLOCKADE, replicates=RUNS)
    assert started and fresh.code != session.code


# --- a student's run -------------------------------------------------------------------------


def test_every_choice_is_stored_as_made_and_the_run_ends_finished(store, session):
    student = store.join(session.code, "Ann")
    run = StudentRun(store, student)
    made = play(run)
    assert run.finished and made == len(run.model.turns) > 5
    stored = store.choices(student.id)
    assert [(c.key, c.option) for c in stored] == [(t.key, t.student) for t in run.model.turns]
    assert [c.seq for c in stored] == list(range(made))
    # each month is stored as simulated: the path and the model's odds at the student's state
    months, path = store.alignment_path(student.id)
    assert list(months) == run.model.recorder.months
    alignment = run.model.recorder.alignment_array()[:, :, [INDEX[p] for p in POLES]]
    assert np.allclose(path, np.median(alignment, axis=1))
    assert all(c.probabilities is not None for c in stored)
    assert store.students(session.id)[0].finished is not None


def test_a_rebuilt_run_is_the_same_run_and_continues_where_it_was(store, session):
    """A reload, a crashed tab or a restarted server: the run replays to where it was."""
    student = store.join(session.code, "Ann")
    first = StudentRun(store, student)
    play(first, moves=4, pick=1)
    where = (first.model.month, len(first.model.turns), first.model.pending())
    rebuilt = StudentRun(store, student)  # the first is simply dropped, as a crash would
    assert (rebuilt.model.month, len(rebuilt.model.turns), rebuilt.model.pending()) == where
    assert np.array_equal(
        rebuilt.model.recorder.alignment_array(), first.model.recorder.alignment_array()
    )
    assert len(store.choices(student.id)) == 4  # nothing written twice by the replay
    # both then play on the same way, to the same end
    play(rebuilt, pick=1 + 4)
    uninterrupted = StudentRun(store, store.join(session.code, "Bo"))
    play(uninterrupted, pick=1)
    assert np.array_equal(
        rebuilt.model.recorder.alignment_array(), uninterrupted.model.recorder.alignment_array()
    )


def test_a_choice_made_in_a_month_left_half_decided_survives(store, session):
    """The server dies after a choice but before the month it completes is simulated."""
    student = store.join(session.code, "Ann")
    run = StudentRun(store, student)
    play(run, moves=2)
    run.run_on()
    decision = run.model.pending()[0]
    run.model.choose(decision.key, decision.options[0])  # stored; the month is not yet played
    rebuilt = StudentRun(store, student)
    assert [t.key for t in rebuilt.model.turns] == [t.key for t in run.model.turns]
    assert decision.key not in [d.key for d in rebuilt.model.pending()]


def test_a_second_tab_cannot_make_a_choice_twice(store, session):
    student = store.join(session.code, "Ann")
    tab, other_tab = StudentRun(store, student), StudentRun(store, student)
    decision = tab.model.pending()[0]
    tab.choose(decision.key, decision.options[0])
    before = other_tab.model.recorder.alignment_array().copy()
    with pytest.raises(ClassError, match="already made"):
        other_tab.choose(decision.key, decision.options[1])
    # refused before it took effect: the other tab's run is as it was, the store has one row
    assert other_tab.model.turns == [] and np.array_equal(
        other_tab.model.recorder.alignment_array(), before
    )
    assert len(store.choices(student.id)) == 1
    with pytest.raises(ClassError, match="not an option"):
        other_tab.choose(decision.key, "surrender")
    with pytest.raises(ClassError, match="not a decision Kazakhstan faces next"):
        other_tab.choose("made-up/decision", "yes")
    assert len(store.choices(student.id)) == 1


def test_a_class_run_is_the_teaching_app_run(store, session):
    """The same scenario, seed and choices give the same run in a class as in the app."""
    run = StudentRun(store, store.join(session.code, "Ann"))
    play(run)
    alone = TeachingModel(scenario_file=BLOCKADE, seed=11, replicates=RUNS, play=True)
    for turn in run.model.turns:
        alone.run_to_next_choice()
        alone.decide(turn.key, turn.student)
    alone.run_to_next_choice()
    assert np.array_equal(alone.recorder.alignment_array(), run.model.recorder.alignment_array())


# --- the instructor's view and export ---------------------------------------------------------


def test_the_view_counts_the_class_choices(store, session):
    runs = [StudentRun(store, store.join(session.code, name)) for name in ("Ann", "Bo", "Cy")]
    for pick, run in enumerate(runs):
        play(run, moves=3, pick=pick)
    runs[2].skip_to(runs[2].model.last_month)  # Cy leaves the rest to the model
    view = class_view(store, session)
    first = view.decisions[0]
    decision = runs[0].model.turns[0]
    assert first.key == decision.key
    options = decision.options
    expected = [sum(r.model.turns[0].student == o for r in runs) for o in options]
    assert list(first.counts) == expected and first.chosen == 3 and first.left == 0
    assert first.recorded == decision.history
    assert first.model is not None and abs(sum(first.model) - 1) < 1e-6
    assert [p.choices for p in view.progress] == [3, 3, len(runs[2].model.turns)]
    assert [p.chosen for p in view.progress] == [3, 3, 3]
    assert view.finished == 1 and view.progress[2].student.finished
    assert any(d.left == 1 for d in view.decisions)


def test_export_has_one_row_per_student_and_decision_and_matches_the_store(
    store, session, tmp_path
):
    for pick, name in enumerate(["Ann", "Bo", "=cmd|' /C calc'!A0"]):
        run = StudentRun(store, store.join(session.code, name))
        play(run, moves=2 + 2 * pick, pick=pick)
    view = class_view(store, session)
    rows = list(csv.DictReader(io.StringIO(export_csv(view))))
    assert list(rows[0]) == CSV_COLUMNS
    stored = stored_rows(store)
    assert len(rows) == len(stored) == 2 + 4 + 6
    assert [(r["seq"], r["decision_key"], r["choice"] or None) for r in rows] == [
        (str(seq), key, option) for _, seq, key, option in stored
    ]
    assert len({(r["student"], r["decision_key"]) for r in rows}) == len(rows)
    assert rows[-1]["nickname"].startswith("'=")  # not a formula in a spreadsheet
    assert export_rows(view)[-1]["nickname"].startswith("=")  # the store keeps what was typed
    for row in rows:
        if row["astana_choice"]:
            assert row["as_astana"] == ("yes" if row["choice"] == row["astana_choice"] else "no")
        else:
            assert row["as_astana"] == ""  # not documented: no comparison
        assert row["p_choice"] == "" or 0 <= float(row["p_choice"]) <= 1
    written = export_class(store, session, tmp_path / "export")
    assert sorted(p.name for p in written) == [
        "choices.csv",
        "class.json",
        "class_choices.png",
        "class_paths.png",
    ]
    assert (tmp_path / "export" / "choices.csv").read_text() == export_csv(view)
    record = json.loads((tmp_path / "export" / "class.json").read_text())
    assert record["choices"] == 12 and record["students"] == 3
    assert record["seed"] == 11 and record["replicates"] == RUNS
    assert record["scenario"]["file"].endswith(BLOCKADE) and len(record["scenario"]["sha256"]) == 64
    assert "package_version" in record and session.token not in json.dumps(record)
    assert (tmp_path / "export" / "complete.json").is_file()


# --- the command line -------------------------------------------------------------------------


def test_teach_with_a_class_prints_the_code_and_link(tmp_path, monkeypatch):
    served = []
    monkeypatch.setattr("multivector.app.class_page.serve_class", lambda *a, **k: served.append(k))
    path = tmp_path / "room.sqlite"
    args = ["teach", "--store", str(path), "--class", "Period 3", "--scenario", BLOCKADE]
    first = runner.invoke(app, [*args, "--seed", "5"])
    again = runner.invoke(app, args)
    assert first.exit_code == again.exit_code == 0, first.output
    session = ClassStore(path).class_by_name("Period 3")
    assert f"join code: {session.code}" in first.stdout
    assert f"?teacher={session.token}" in first.stdout
    assert "started class" in first.stdout and "reopened class" in again.stdout
    assert served[0] == {"host": "127.0.0.1", "port": 8765, "address": "http://127.0.0.1:8765/"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["teach", "--class", "X"], "need --store FILE"),
        (["teach", "--store", "{store}", "--seed", "3"], "name it with --class"),
        (["teach", "--store", "{store}", "--class", "X", "--scenario", "nope"], "not one of the"),
        (["teach", "--store", "{store}", "--class", "X", "--replicates", "5"], "10 to 300"),
        (["teach", "--store", "{notes}", "--class", "X"], "not a Multivector class store"),
        (["class-export", "{missing}"], "does not exist"),
        (["class-export", "{store}", "--code", "AB"], "join code is 6"),
        (["class-export", "{notes}"], "not a Multivector class store"),
    ],
)
def test_class_commands_refuse_bad_input_in_one_line(tmp_path, monkeypatch, args, fragment):
    monkeypatch.setattr("multivector.app.class_page.serve_class", lambda *a, **k: None)
    (tmp_path / "notes.sqlite").write_text("not a store")
    names = {"store": tmp_path / "room.sqlite", "notes": tmp_path / "notes.sqlite"}
    names["missing"] = tmp_path / "missing.sqlite"
    ClassStore(names["store"])
    result = runner.invoke(app, [a.format(**names) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "missing.sqlite").exists()


def test_class_export_names_the_class_when_the_store_has_several(tmp_path, store, session):
    play(StudentRun(store, store.join(session.code, "Ann")), moves=2)
    store.create_class("Period 4", BLOCKADE)
    several = runner.invoke(app, ["class-export", str(store.path)])
    assert several.exit_code == 2 and session.code in several.stderr
    out = tmp_path / "export"
    done = runner.invoke(
        app, ["class-export", str(store.path), "--code", session.code, "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert len((out / "choices.csv").read_text().splitlines()) == 1 + 2
