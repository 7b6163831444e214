"""Class sessions: a teacher's room of students, each playing Kazakhstan in their own run.

Nothing here draws or talks to a browser (``model/app/class_page.py`` does that); the page,
the command line (``multivector teach --class``, ``multivector class-export``) and the load
test all go through these classes, so there is one path from a student's click to the store.

- :class:`ClassStore`: sessions, students, every choice and each student's alignment path in
  one SQLite file the teacher names, written as each choice is made (a choice is stored
  before it takes effect, so a crash never leaves a run ahead of its record).
- :class:`StudentRun`: a student's :class:`~multivector.app.teaching.TeachingModel`, rebuilt
  from the store by replaying the stored choices on the class's scenario and seed (the model's
  randomness is keyed by seed, month and replicate, so a replay is the same run), then kept
  in step with it.
- :func:`class_view`: what the instructor sees: per decision, the class's choices beside
  Astana's recorded choice and the model's probabilities; each student's progress; the
  class's alignment paths beside the model's fan.
- :func:`export_class`: the CSV (one row per student and decision) and the class figures.

Secrets: the instructor's token and each student's token are random (``secrets``); a page is
opened by its token only, and a student's page is built from that student's rows alone.
"""

import csv
import io
import json
import os
import secrets
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from multivector.actors import INDEX, KAZAKHSTAN, POLES
from multivector.app.teaching import (
    DEFAULT_SCENARIO,
    TEACHING_REPLICATES,
    TeachingModel,
    Turn,
    kazakh_part,
    parse_seed,
    records_of,
    scenario_file_of,
    scenario_files,
    scenario_for,
)
from multivector.calendar import month_label
from multivector.errors import InputError
from multivector.files import claimed, staged
from multivector.inputs.provenance import Provenance
from multivector.version import __version__

SCHEMA = "multivector-class-store"
SCHEMA_VERSION = 1
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Join-code characters: no 0/O or 1/I, which a class misreads from a projector."""
CODE_LENGTH = 6
NICKNAME_LONGEST = 24
CLASS_NAME_LONGEST = 80
REPLICATE_RANGE = (10, 300)
"""Runs in a student's fan: the teaching app's own slider range."""
POLL_SECONDS = 2.0
"""How often an open instructor or student page checks the store for news."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS class (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL UNIQUE,
    scenario_file TEXT NOT NULL,
    seed INTEGER NOT NULL,
    replicates INTEGER NOT NULL,
    created TEXT NOT NULL,
    debrief_open INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS student (
    id INTEGER PRIMARY KEY,
    class_id INTEGER NOT NULL REFERENCES class(id),
    nickname TEXT NOT NULL COLLATE NOCASE,
    token TEXT NOT NULL UNIQUE,
    joined TEXT NOT NULL,
    finished TEXT,
    UNIQUE (class_id, nickname)
);
CREATE TABLE IF NOT EXISTS choice (
    student_id INTEGER NOT NULL REFERENCES student(id),
    seq INTEGER NOT NULL,
    decision_key TEXT NOT NULL,
    month INTEGER NOT NULL,
    title TEXT NOT NULL,
    options TEXT NOT NULL,
    option TEXT,
    recorded TEXT,
    probabilities TEXT,
    made TEXT NOT NULL,
    PRIMARY KEY (student_id, seq),
    UNIQUE (student_id, decision_key)
);
CREATE TABLE IF NOT EXISTS path (
    student_id INTEGER NOT NULL REFERENCES student(id),
    month INTEGER NOT NULL,
    rus REAL NOT NULL,
    chn REAL NOT NULL,
    usa REAL NOT NULL,
    PRIMARY KEY (student_id, month)
);
"""
# choice.option NULL: the student left the decision to the model; choice.probabilities: the
# model's probability of each option at the student's own state, filled in once the month is
# simulated (JSON list, NULL until then).


class ClassError(ValueError):
    """Something a page or a command asked of a class session that cannot be done.

    Its message is one sentence for the person at the keyboard (a student, a teacher).
    """


def now() -> str:
    """The time, UTC, to the second (when a student joined, chose, finished)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- what people type ----------------------------------------------------------------------


def _clean_text(text: object, what: str, longest: int) -> str:
    value = unicodedata.normalize("NFC", str(text if text is not None else "")).strip()
    value = " ".join(value.split())
    if not value:
        raise ClassError(f"Enter a {what}.")
    if len(value) > longest:
        raise ClassError(f"A {what} has at most {longest} characters.")
    if not value.isprintable() or any(c in value for c in "<>"):
        raise ClassError(f"A {what} may not contain control characters or < >.")
    return value


def clean_nickname(text: object) -> str:
    """A nickname as typed, checked: 1-24 printable characters, spaces collapsed."""
    return _clean_text(text, "nickname", NICKNAME_LONGEST)


def clean_class_name(text: object) -> str:
    """A class's name, checked: 1-80 printable characters."""
    return _clean_text(text, "class name", CLASS_NAME_LONGEST)


def clean_code(text: object) -> str:
    """A join code as typed (any case, spaces and dashes ignored), checked."""
    value = "".join(str(text if text is not None else "").split()).replace("-", "").upper()
    if len(value) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in value):
        raise ClassError(f"A join code is {CODE_LENGTH} letters and digits, as on the board.")
    return value


def looks_like_token(text: object) -> bool:
    """Whether text could be a token (URL-safe, 20-64 characters); checked before any lookup."""
    value = str(text if text is not None else "")
    return 20 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def clean_scenario(text: object) -> str:
    """A shipped scenario, by file name or label."""
    name = scenario_file_of(str(text if text is not None else DEFAULT_SCENARIO) or DEFAULT_SCENARIO)
    if name not in scenario_files():
        raise ClassError(f"'{name}' is not one of the scenarios in scenarios/.")
    return name


def clean_replicates(value: object) -> int:
    """Runs in each student's fan, within the app's range."""
    low, high = REPLICATE_RANGE
    try:
        number = int(str(value))
    except ValueError:
        raise ClassError(f"Runs in the fan is a whole number from {low} to {high}.") from None
    if not low <= number <= high:
        raise ClassError(f"Runs in the fan is a whole number from {low} to {high}.")
    return number


# --- the store -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSession:
    """A class as stored.

    Attributes:
        id: Row id.
        code: The join code students type.
        name: The teacher's name for it.
        token: The instructor's secret (never shown on a student's page).
        scenario_file: The scenario every student plays.
        seed: The seed every student's run uses.
        replicates: Runs in each student's fan.
        created: When it was started (UTC).
        debrief_open: Whether the teacher has opened the debrief for all.
    """

    id: int
    code: str
    name: str
    token: str
    scenario_file: str
    seed: int
    replicates: int
    created: str
    debrief_open: bool


@dataclass(frozen=True)
class Student:
    """A student in a class.

    Attributes:
        id: Row id.
        class_id: Their class.
        nickname: The only thing stored about them.
        token: Their secret: their page's address carries it, so a reload continues.
        joined: When they joined (UTC).
        finished: When their run ended (None: still playing).
    """

    id: int
    class_id: int
    nickname: str
    token: str
    joined: str
    finished: str | None


@dataclass(frozen=True)
class StoredChoice:
    """One stored choice of a student's.

    Attributes:
        seq: Its place in the student's run (0, 1, ...).
        key: The decision.
        month: The month it was posed.
        title: The episode's title.
        options: The decision's options.
        option: The student's choice (None: left to the model).
        recorded: Astana's documented choice (None: not documented).
        probabilities: The model's probability of each option at the student's own state
            (None until the month has been simulated).
        made: When (UTC).
    """

    seq: int
    key: str
    month: int
    title: str
    options: tuple[str, ...]
    option: str | None
    recorded: str | None
    probabilities: tuple[float, ...] | None
    made: str


class ClassStore:
    """Class sessions in one SQLite file.

    Each operation opens its own connection (Solara serves each browser from its own thread)
    in write-ahead-log mode, so pages read while another student's choice is written; a
    write takes the database's lock at once (``BEGIN IMMEDIATE``) and waits up to
    ``busy_seconds`` for it. A committed choice survives the server being killed.

    Args:
        path: The file (created, readable only by its owner, if missing).
        busy_seconds: How long a write waits for another's lock.

    Raises:
        InputError: If the file exists but is not a class store, or cannot be opened.
    """

    def __init__(self, path: str | Path, busy_seconds: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_seconds = busy_seconds
        if self.path.is_dir():
            raise InputError(self.path, "", "is a folder; name a file for the class store")
        if self.path.exists() and self.path.stat().st_size and not self._is_sqlite():
            raise InputError(self.path, "", "is not a Multivector class store (not SQLite)")
        created = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._write() as db:
                for statement in _TABLES.split(";"):
                    db.execute(statement)  # executescript would commit the open transaction
                found = dict(db.execute("SELECT key, value FROM meta").fetchall())
                if not found:
                    db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA,))
                    db.execute("INSERT INTO meta VALUES ('version', ?)", (str(SCHEMA_VERSION),))
                elif found.get("schema") != SCHEMA:
                    raise InputError(self.path, "meta.schema", "is not a Multivector class store")
                elif found.get("version") != str(SCHEMA_VERSION):
                    raise InputError(
                        self.path,
                        "meta.version",
                        f"is version {found.get('version')}; this package reads {SCHEMA_VERSION}",
                    )
        except sqlite3.Error as error:
            raise InputError(self.path, "", f"cannot be used as a class store: {error}") from None
        if created:
            os.chmod(self.path, 0o600)  # it holds the instructor's token

    def _is_sqlite(self) -> bool:
        with self.path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL: a killed process loses no commit
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # --- classes --------------------------------------------------------------------------

    def create_class(
        self,
        name: str,
        scenario_file: str = DEFAULT_SCENARIO,
        seed: str | int | None = None,
        replicates: int = TEACHING_REPLICATES,
    ) -> ClassSession:
        """Start a class: a new join code and instructor token.

        Raises:
            ClassError: If the name is taken in this store, or an input is not valid.
        """
        name = clean_class_name(name)
        scenario_file = clean_scenario(scenario_file)
        replicates = clean_replicates(replicates)
        seed_value = parse_seed(seed, scenario_for(scenario_file).seed)
        with self._write() as db:
            if db.execute("SELECT 1 FROM class WHERE name = ?", (name,)).fetchone():
                raise ClassError(f"There is already a class called '{name}' in {self.path.name}.")
            taken = {row[0] for row in db.execute("SELECT code FROM class")}
            code = new_code(taken)
            token = secrets.token_urlsafe(24)
            db.execute(
                "INSERT INTO class (code, name, token, scenario_file, seed, replicates, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (code, name, token, scenario_file, seed_value, replicates, now()),
            )
        return self.class_by_code(code)

    def _classes(self, where: str = "", value: object = None) -> list[ClassSession]:
        """The classes whose column ``where`` (a name from this class) is ``value``; or all."""
        with self._read() as db:
            rows = db.execute(
                "SELECT id, code, name, token, scenario_file, seed, replicates, created,"
                " debrief_open FROM class"
                + (f" WHERE {where} = ?" if where else "")
                + " ORDER BY id",
                (value,) if where else (),
            ).fetchall()
        return [ClassSession(*row[:-1], bool(row[-1])) for row in rows]

    def _class(self, where: str, value: object) -> ClassSession | None:
        found = self._classes(where, value)
        return found[0] if found else None

    def class_by_code(self, code: str) -> ClassSession | None:
        """The class with this join code (None if there is none)."""
        return self._class("code", code)

    def class_by_name(self, name: str) -> ClassSession | None:
        """The class with this name (None if there is none)."""
        return self._class("name", name)

    def class_by_id(self, class_id: int) -> ClassSession | None:
        """The class with this row id."""
        return self._class("id", class_id)

    def class_by_token(self, token: str) -> ClassSession | None:
        """The class whose instructor token this is (None for anything else)."""
        return self._class("token", token) if looks_like_token(token) else None

    def classes(self) -> list[ClassSession]:
        """Every class in the store, oldest first."""
        return self._classes()

    def set_debrief(self, class_id: int, open_: bool) -> None:
        """Open (or close) the debrief on every student's page."""
        with self._write() as db:
            db.execute("UPDATE class SET debrief_open = ? WHERE id = ?", (int(open_), class_id))

    def debrief_open(self, class_id: int) -> bool:
        """Whether the teacher has opened the debrief."""
        with self._read() as db:
            row = db.execute("SELECT debrief_open FROM class WHERE id = ?", (class_id,)).fetchone()
        return bool(row and row[0])

    def revision(self, class_id: int) -> tuple[int, ...]:
        """A fingerprint of a class's state: it changes whenever anything of the class does."""
        with self._read() as db:
            return tuple(
                db.execute(
                    "SELECT (SELECT count(*) FROM student WHERE class_id = :c),"
                    " (SELECT count(*) FROM student WHERE class_id = :c AND finished IS NOT NULL),"
                    " (SELECT count(*) FROM choice JOIN student ON student.id = student_id"
                    "  WHERE class_id = :c),"
                    " (SELECT count(*) FROM choice JOIN student ON student.id = student_id"
                    "  WHERE class_id = :c AND probabilities IS NOT NULL),"
                    " (SELECT count(*) FROM path JOIN student ON student.id = student_id"
                    "  WHERE class_id = :c),"
                    " (SELECT debrief_open FROM class WHERE id = :c)",
                    {"c": class_id},
                ).fetchone()
            )

    # --- students -------------------------------------------------------------------------

    def join(self, code: str, nickname: str) -> Student:
        """A student joins a class by its code with a nickname.

        Raises:
            ClassError: If the code is not a class's, or the nickname is taken in it (a
                nickname is not a password: a student who lost their page reopens its link).
        """
        code, nickname = clean_code(code), clean_nickname(nickname)
        session = self.class_by_code(code)
        if session is None:
            raise ClassError(f"No class has the code {code}: check it on the board.")
        token = secrets.token_urlsafe(24)
        with self._write() as db:
            try:
                db.execute(
                    "INSERT INTO student (class_id, nickname, token, joined) VALUES (?, ?, ?, ?)",
                    (session.id, nickname, token, now()),
                )
            except sqlite3.IntegrityError:
                raise ClassError(
                    f"Someone in this class is already called '{nickname}'. Pick another "
                    "nickname; if it is you, reopen your own page (your browser's history) or "
                    "ask your teacher for your link."
                ) from None
        student = self.student_by_token(token)
        assert student is not None
        return student

    def _students(self, where: str, value: object) -> list[Student]:
        with self._read() as db:
            rows = db.execute(
                "SELECT id, class_id, nickname, token, joined, finished FROM student"
                f" WHERE {where} = ? ORDER BY id",
                (value,),
            ).fetchall()
        return [Student(*row) for row in rows]

    def student_by_token(self, token: str) -> Student | None:
        """The student whose token this is (None for anything else)."""
        if not looks_like_token(token):
            return None
        found = self._students("token", token)
        return found[0] if found else None

    def students(self, class_id: int) -> list[Student]:
        """A class's students, in the order they joined."""
        return self._students("class_id", class_id)

    def finish(self, student_id: int) -> None:
        """Mark a student's run as ended (once: the first time counts)."""
        with self._write() as db:
            db.execute(
                "UPDATE student SET finished = ? WHERE id = ? AND finished IS NULL",
                (now(), student_id),
            )

    # --- choices and paths ----------------------------------------------------------------

    def record_choice(self, student_id: int, seq: int, turn: Turn) -> None:
        """Store a choice as it is made.

        Raises:
            ClassError: If the student already has a choice at this place or for this
                decision (a double click, or a second tab on the same run).
        """
        with self._write() as db:
            try:
                db.execute(
                    "INSERT INTO choice (student_id, seq, decision_key, month, title, options,"
                    " option, recorded, made) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        student_id,
                        seq,
                        turn.key,
                        turn.month,
                        turn.title,
                        json.dumps(list(turn.options)),
                        turn.student,
                        turn.history,
                        now(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise ClassError(
                    "That choice was already made (in another tab?): reload the page."
                ) from None

    def record_month(
        self,
        student_id: int,
        month: int,
        alignment: np.ndarray,
        probabilities: dict[str, tuple[float, ...]],
    ) -> None:
        """Store a simulated month: the median alignment and the model's odds at its choices."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO path VALUES (?, ?, ?, ?, ?)",
                (student_id, month, *(float(v) for v in alignment)),
            )
            for key, values in probabilities.items():
                db.execute(
                    "UPDATE choice SET probabilities = ? WHERE student_id = ? AND decision_key = ?",
                    (json.dumps([round(float(v), 6) for v in values]), student_id, key),
                )

    def choices(self, student_id: int) -> list[StoredChoice]:
        """A student's choices, in the order made."""
        with self._read() as db:
            rows = db.execute(
                "SELECT seq, decision_key, month, title, options, option, recorded,"
                " probabilities, made FROM choice WHERE student_id = ? ORDER BY seq",
                (student_id,),
            ).fetchall()
        return [
            StoredChoice(
                seq=row[0],
                key=row[1],
                month=row[2],
                title=row[3],
                options=tuple(json.loads(row[4])),
                option=row[5],
                recorded=row[6],
                probabilities=None if row[7] is None else tuple(json.loads(row[7])),
                made=row[8],
            )
            for row in rows
        ]

    def alignment_path(self, student_id: int) -> tuple[np.ndarray, np.ndarray]:
        """A student's median alignment toward Russia, China and the US: months, (M, 3)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT month, rus, chn, usa FROM path WHERE student_id = ? ORDER BY month",
                (student_id,),
            ).fetchall()
        values = np.array(rows, dtype=float).reshape(-1, 4)
        return values[:, 0].astype(int), values[:, 1:]


def new_code(taken: set[str]) -> str:
    """A join code not yet used in the store."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def open_class(
    store: ClassStore,
    name: str,
    scenario_file: str | None = None,
    seed: str | int | None = None,
    replicates: int | None = None,
) -> tuple[ClassSession, bool]:
    """The class of this name, started if new (``multivector teach --class``).

    Returns:
        The class, and whether it was started now (False: reopened, as after a restart).

    Raises:
        ClassError: If it exists with another scenario, seed or number of runs than asked.
    """
    found = store.class_by_name(clean_class_name(name))
    if found is None:
        return (
            store.create_class(
                name,
                scenario_file or DEFAULT_SCENARIO,
                seed,
                TEACHING_REPLICATES if replicates is None else replicates,
            ),
            True,
        )
    asked = {
        "scenario": None if scenario_file is None else clean_scenario(scenario_file),
        "seed": None if seed is None else parse_seed(seed, scenario_for(found.scenario_file).seed),
        "runs": None if replicates is None else clean_replicates(replicates),
    }
    stored = {"scenario": found.scenario_file, "seed": found.seed, "runs": found.replicates}
    for what, value in asked.items():
        if value is not None and value != stored[what]:
            raise ClassError(
                f"class '{found.name}' already exists in {store.path.name} with {what} "
                f"{stored[what]}, not {value}: leave the option out to reopen it, or name a "
                "new class"
            )
    return found, False


# --- a student's run -----------------------------------------------------------------------


def class_model(session: ClassSession, play: bool = True) -> TeachingModel:
    """A run on the class's scenario, seed and number of runs (played, or the model's own)."""
    return TeachingModel(
        scenario_file=session.scenario_file,
        seed=session.seed,
        replicates=session.replicates,
        play=play,
    )


def median_alignment(model: TeachingModel) -> np.ndarray:
    """Median over runs of Kazakhstan's alignment toward Russia, China and the US, latest month."""
    latest = model.recorder.alignment[-1]  # (R, 6)
    return np.median(latest[:, [INDEX[p] for p in POLES]], axis=0)


class StudentRun:
    """A student's run, kept in step with the store.

    Built by replaying the student's stored choices on the class's scenario and seed (nothing
    is written twice); then every new choice is stored before it takes effect and every
    simulated month as it ends. It stands where the student left it: at the month they
    had reached, with the same decision waiting.

    Args:
        store: The class store.
        student: The student.
    """

    def __init__(self, store: ClassStore, student: Student) -> None:
        session = store.class_by_id(student.class_id)
        if session is None:
            raise ClassError("This student's class is not in the store.")
        self.store = store
        self.student = student
        self.session = session
        self.model = class_model(session)
        kept = set(store.alignment_path(student.id)[0].tolist())
        # a month the store lacks (the server died between simulating and storing it) is
        # stored as the replay passes it; choices are not, they are what is replayed
        self.model.on_step = lambda: None if self.model.month in kept else self._store_month()
        stored = store.choices(student.id)
        self._replay(stored)
        self._play_to(max(kept, default=None))
        self.model.on_choice = self._store_choice
        self.model.on_step = self._store_month
        if not stored and not kept:
            self.model.run_to_next_choice()  # a new student starts at their first decision
        self._note_finish()

    def _replay(self, stored: list[StoredChoice]) -> None:
        """Make the stored choices again, in order, stepping between months as play did."""
        model = self.model
        for choice in stored:
            while model.running and not any(d.key == choice.key for d in model.pending()):
                if model.pending():
                    raise ClassError(
                        f"The stored run does not replay: '{choice.key}' came before "
                        f"{[d.key for d in model.pending()]} were chosen."
                    )
                model.step()
            if not model.running:
                raise ClassError(f"The stored run does not replay: '{choice.key}' was never posed.")
            model.choose(choice.key, choice.option)

    def _play_to(self, month: int | None) -> None:
        """Step on to the latest month the student had reached (they may have run on)."""
        model = self.model
        while model.running and not model.pending() and month is not None:
            if model.steps and model.month >= month:
                break
            model.step()

    def _store_choice(self, turn: Turn) -> None:
        self.store.record_choice(self.student.id, len(self.model.turns), turn)

    def _store_month(self) -> None:
        model = self.model
        odds = {}
        for turn in model.turns:
            if turn.month == model.month:
                records = records_of(model, turn.key)
                if records:
                    odds[turn.key] = kazakh_part(records[0]).odds
        self.store.record_month(self.student.id, model.month, median_alignment(model), odds)
        self._note_finish()

    def _note_finish(self) -> None:
        if not self.model.running and self.student.finished is None:
            self.store.finish(self.student.id)
            self.student = self.store.student_by_token(self.student.token) or self.student

    # --- what the page does ----------------------------------------------------------------

    def choose(self, key: str, option: str | None) -> Turn:
        """The student's choice (None: left to the model); the month is played once decided.

        Raises:
            ClassError: If the decision is not pending, the option is not one of its options,
                or the store already has a choice there.
        """
        try:
            return self.model.decide(key, option)
        except ValueError as error:
            raise ClassError(str(error)) from None

    def run_on(self) -> None:
        """Play on to the student's next decision (or the end)."""
        self.model.run_to_next_choice()

    def skip_to(self, month: int) -> None:
        """Leave the choices to the model until ``month`` (each stored as left to it)."""
        self.model.let_model_decide_until(month)

    @property
    def finished(self) -> bool:
        """Whether the run has ended."""
        return not self.model.running


# --- the instructor's view -----------------------------------------------------------------


@dataclass(frozen=True)
class ModelRun:
    """The class's scenario and seed with the model choosing for Kazakhstan throughout.

    Attributes:
        months: Months of the run.
        alignment: Kazakhstan's alignment toward Russia, China and the US, (M, R, 3).
        probabilities: Each Kazakh decision's options and the model's probability of each
            (mean over the runs where it was posed), by key.
        provenance: The run's inputs (scenario, parameters, episode library).
    """

    months: np.ndarray
    alignment: np.ndarray
    probabilities: dict[str, tuple[tuple[str, ...], tuple[float, ...]]]
    provenance: dict[str, Any]


@lru_cache(maxsize=8)
def model_run(scenario_file: str, seed: int, replicates: int) -> ModelRun:
    """The model's own run of a class's scenario (computed once per process and class)."""
    model = TeachingModel(scenario_file=scenario_file, seed=seed, replicates=replicates)
    while model.running:
        model.step()
    poles = [INDEX[p] for p in POLES]
    odds = {}
    for record in model.recorder.decisions:
        if KAZAKHSTAN in record.decision.deciders and record.decision.key not in odds:
            part = kazakh_part(record)
            if part.posed:
                odds[record.decision.key] = (record.decision.options, part.odds)
    provenance = Provenance(model.scenario_spec, model.parameters, model.library.sha256)
    return ModelRun(
        months=np.asarray(model.recorder.months),
        alignment=model.recorder.alignment_array()[..., poles],
        probabilities=odds,
        provenance=provenance.run_record(model.seed, model.replicates, model.recorder.months),
    )


@dataclass(frozen=True)
class DecisionTally:
    """One decision as the class met it.

    Attributes:
        key: The decision.
        month: When it is posed.
        title: The episode's title.
        options: Its options.
        counts: Students choosing each option.
        left: Students who left it to the model.
        recorded: Astana's documented choice (None: not documented).
        model: The model's probability of each option in its own run (None: not posed there).
    """

    key: str
    month: int
    title: str
    options: tuple[str, ...]
    counts: tuple[int, ...]
    left: int
    recorded: str | None
    model: tuple[float, ...] | None

    @property
    def chosen(self) -> int:
        """Students who made this choice themselves."""
        return sum(self.counts)

    @property
    def shares(self) -> tuple[float, ...]:
        """Share of those students choosing each option (NaN when none did)."""
        total = self.chosen
        return tuple(c / total if total else float("nan") for c in self.counts)


@dataclass(frozen=True)
class Progress:
    """Where a student is.

    Attributes:
        student: The student.
        choices: Decisions met so far.
        chosen: Of those, made by the student (not left to the model).
        as_astana: Of those with a documented choice, how many the student made as Astana did.
        documented: Decisions the student chose in that have a documented choice.
        month: The latest month simulated in their run (None: not started).
    """

    student: Student
    choices: int
    chosen: int
    as_astana: int
    documented: int
    month: int | None


@dataclass(frozen=True)
class ClassView:
    """Everything the instructor's page and the export show.

    Attributes:
        session: The class.
        progress: Each student's progress, in the order they joined.
        decisions: Each decision any student met, in the order posed.
        paths: Each student's months and median alignment path, (M, 3), by student id.
        model: The model's own run of the class's scenario.
        choices: Each student's stored choices, by student id.
    """

    session: ClassSession
    progress: list[Progress]
    decisions: list[DecisionTally]
    paths: dict[int, tuple[np.ndarray, np.ndarray]]
    model: ModelRun
    choices: dict[int, list[StoredChoice]]

    @property
    def finished(self) -> int:
        """Students whose run has ended."""
        return sum(p.student.finished is not None for p in self.progress)


def class_view(store: ClassStore, session: ClassSession) -> ClassView:
    """The class's choices, progress and paths, as the store holds them now."""
    students = store.students(session.id)
    choices = {s.id: store.choices(s.id) for s in students}
    paths = {s.id: store.alignment_path(s.id) for s in students}
    reference = model_run(session.scenario_file, session.seed, session.replicates)
    found: dict[str, StoredChoice] = {}
    counts: dict[str, list[int]] = {}
    left: dict[str, int] = {}
    for made in choices.values():
        for choice in made:
            found.setdefault(choice.key, choice)
            tally = counts.setdefault(choice.key, [0] * len(choice.options))
            if choice.option is None:
                left[choice.key] = left.get(choice.key, 0) + 1
            else:
                tally[choice.options.index(choice.option)] += 1
    decisions = [
        DecisionTally(
            key=key,
            month=first.month,
            title=first.title,
            options=first.options,
            counts=tuple(counts[key]),
            left=left.get(key, 0),
            recorded=first.recorded,
            model=reference.probabilities.get(key, (None, None))[1],
        )
        for key, first in sorted(found.items(), key=lambda item: (item[1].month, item[1].seq))
    ]
    progress = []
    for student in students:
        made = choices[student.id]
        mine = [c for c in made if c.option is not None]
        documented = [c for c in mine if c.recorded is not None]
        months = paths[student.id][0]
        progress.append(
            Progress(
                student=student,
                choices=len(made),
                chosen=len(mine),
                as_astana=sum(c.option == c.recorded for c in documented),
                documented=len(documented),
                month=int(months[-1]) if len(months) else None,
            )
        )
    return ClassView(session, progress, decisions, paths, reference, choices)


# --- export --------------------------------------------------------------------------------

CSV_COLUMNS = [
    "class_code",
    "class_name",
    "scenario_file",
    "seed",
    "replicates",
    "student",
    "nickname",
    "seq",
    "month",
    "decision_key",
    "decision_title",
    "options",
    "choice",
    "left_to_model",
    "astana_choice",
    "as_astana",
    "p_choice",
    "p_astana",
    "made_utc",
    "student_finished_utc",
]
"""The export's columns: one row per student and decision met. ``student`` numbers students in
the order they joined; ``p_choice`` and ``p_astana`` are the model's probabilities at the
student's own state (empty until that month was simulated)."""


def _probability(choice: StoredChoice, option: str | None) -> str:
    if choice.probabilities is None or option is None:
        return ""
    return f"{choice.probabilities[choice.options.index(option)]:.6f}"


def export_rows(view: ClassView) -> list[dict[str, str]]:
    """The export's rows: one per student and decision they met, in join and choice order."""
    session = view.session
    rows = []
    for number, entry in enumerate(view.progress, start=1):
        student = entry.student
        for choice in view.choices[student.id]:
            rows.append(
                {
                    "class_code": session.code,
                    "class_name": session.name,
                    "scenario_file": session.scenario_file,
                    "seed": str(session.seed),
                    "replicates": str(session.replicates),
                    "student": str(number),
                    "nickname": student.nickname,
                    "seq": str(choice.seq),
                    "month": month_label(choice.month),
                    "decision_key": choice.key,
                    "decision_title": choice.title,
                    "options": ";".join(choice.options),
                    "choice": choice.option or "",
                    "left_to_model": "yes" if choice.option is None else "no",
                    "astana_choice": choice.recorded or "",
                    "as_astana": ""
                    if choice.option is None or choice.recorded is None
                    else ("yes" if choice.option == choice.recorded else "no"),
                    "p_choice": _probability(choice, choice.option),
                    "p_astana": _probability(choice, choice.recorded),
                    "made_utc": choice.made,
                    "student_finished_utc": student.finished or "",
                }
            )
    return rows


def export_csv(view: ClassView) -> str:
    """The export as CSV text (a spreadsheet opens it; the header names each column)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_spreadsheet_safe(row) for row in export_rows(view))
    return buffer.getvalue()


def _spreadsheet_safe(row: dict[str, str]) -> dict[str, str]:
    # a nickname such as "=HYPERLINK(...)" must not become a formula when a teacher opens it
    return {k: "'" + v if v[:1] in "=+-@\t\r" and k == "nickname" else v for k, v in row.items()}


def class_record(view: ClassView, store: ClassStore) -> dict[str, Any]:
    """class.json: the class, its students' progress, and the run's provenance."""
    session = view.session
    return {
        "class": {
            "code": session.code,
            "name": session.name,
            "created_utc": session.created,
            "store": store.path.name,
        },
        "students": len(view.progress),
        "finished": view.finished,
        "choices": sum(len(c) for c in view.choices.values()),
        "decisions_met": len(view.decisions),
        **view.model.provenance,
        "package_version": __version__,
    }


def export_class(store: ClassStore, session: ClassSession, out: Path) -> list[Path]:
    """Write choices.csv, class.json and the class figures into ``out`` (staged together).

    Returns:
        The files written.
    """
    from multivector.viz.class_plots import class_choices_figure, class_paths_figure

    view = class_view(store, session)
    out = Path(out)
    with claimed(out), staged(complete=out) as files:
        written = [
            files.text(out / "choices.csv", export_csv(view)),
            files.json(out / "class.json", class_record(view, store)),
        ]
        for name, figure in (
            ("class_paths.png", class_paths_figure(view_paths(view))),
            ("class_choices.png", class_choices_figure(view_tallies(view))),
        ):
            figure.savefig(files.path(out / name), dpi=110)
            written.append(out / name)
    return written


def view_paths(view: ClassView) -> dict[str, Any]:
    """The class-paths figure's data: the model's months and fan, each student's path."""
    return {
        "months": view.model.months,
        "fan": view.model.alignment,
        "students": [view.paths[p.student.id] for p in view.progress],
        "title": f"{view.session.name}: {len(view.progress)} "
        + ("student" if len(view.progress) == 1 else "students"),
    }


def view_tallies(view: ClassView) -> list[dict[str, Any]]:
    """The class-choices figure's data: each decision the class chose in."""
    return [
        {
            "label": f"{month_label(d.month)} {d.title}",
            "options": d.options,
            "shares": d.shares,
            "chosen": d.chosen,
            "model": d.model,
            "recorded": d.recorded,
        }
        for d in view.decisions
        if d.chosen
    ]


def export_folder(store: ClassStore, session: ClassSession) -> Path:
    """Where a class's export goes by default: beside the store, one folder per class."""
    return store.path.parent / f"{store.path.stem}-exports" / session.code
