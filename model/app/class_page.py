"""The class sessions' pages: students join and play; the instructor watches, debriefs, exports.

One Solara app, three pages, chosen by the address's query:

- ``/``: join a class (its code and a nickname), or start one (a teacher at the machine).
- ``/?student=TOKEN``: that student's own run, rebuilt from the store, so a reload, a crashed
  tab or a restarted server continues where the student was.
- ``/?teacher=TOKEN``: the instructor's view of that class, refreshed from the store every
  :data:`~multivector.app.classroom.POLL_SECONDS`.

A page is built from its token alone: a student's page reads that student's rows and nothing
of the instructor's, and the teacher's token is never rendered outside the teacher's page.
Everything a click does goes through :mod:`multivector.app.classroom`; the student's run is
drawn by the teaching app's own components (:func:`~multivector.app.page.Dashboard`).

Serve it with ``multivector teach --store FILE [--class NAME]`` (:func:`serve_class`).
"""

import os
from pathlib import Path
from urllib.parse import parse_qs

import solara

from multivector.app.classroom import (
    POLL_SECONDS,
    ClassError,
    ClassSession,
    ClassStore,
    ClassView,
    Student,
    StudentRun,
    class_view,
    export_class,
    export_csv,
    export_folder,
    view_paths,
    view_tallies,
)
from multivector.app.page import CSS, Dashboard, esc, note, percent, png, serve
from multivector.app.teaching import plain, scenario_files, scenario_label
from multivector.calendar import month_label
from multivector.viz.class_plots import class_choices_figure, class_paths_figure

STORE_VARIABLE = "MULTIVECTOR_CLASS_STORE"
"""The environment variable that names the class store to the server's pages."""
APP = "multivector.app.class_page:Page"
CLASS_CSS = """
.mv-code { font-size: 40px; font-weight: 700; letter-spacing: 6px; font-family: monospace; }
.mv-class-head { font-size: 15px; line-height: 1.6; }
.mv-problem { margin-top: 6px; }
"""

_stores: dict[str, ClassStore] = {}


def class_store() -> ClassStore:
    """The store the server was started with (opened once per process)."""
    path = os.environ.get(STORE_VARIABLE)
    if not path:
        raise RuntimeError(
            f"serve the class pages with multivector teach --store (no {STORE_VARIABLE})"
        )
    if path not in _stores:
        _stores[path] = ClassStore(path)
    return _stores[path]


def query_value(search: str | None, name: str) -> str | None:
    """One value of the address's query (``?student=...``), or None."""
    values = parse_qs(search or "").get(name)
    return values[0] if values else None


def use_poll(read, dependencies: list) -> object:
    """A value read from the store now and again every few seconds (re-rendering on change)."""
    value, set_value = solara.use_state(read, key=str(dependencies))

    def poll(cancel) -> None:
        last = read()
        set_value(last)
        while not cancel.wait(POLL_SECONDS):
            found = read()
            if found != last:
                last = found
                set_value(found)

    solara.use_thread(poll, dependencies=dependencies)
    return value


# --- joining -------------------------------------------------------------------------------


@solara.component
def JoinPage(store: ClassStore) -> None:
    """Join a class with its code and a nickname; or start a class."""
    router = solara.use_router()
    code = solara.use_reactive("")
    nickname = solara.use_reactive("")
    problem = solara.use_reactive("")

    def join() -> None:
        try:
            student = store.join(code.value, nickname.value)
        except ClassError as error:
            problem.set(str(error))
            return
        router.push(f"/?student={student.token}")

    with solara.Column(style={"max-width": "640px", "padding": "24px"}):
        with solara.Card("Join your class", classes=["mv-join"]):
            note(
                "Enter the code on the board and a nickname: nothing else about you is kept. "
                "You will play Kazakhstan through the documented episodes; your teacher sees "
                "the class's choices, not your name unless your nickname gives it.",
                "mv-help",
            )
            solara.InputText("Class code", value=code, classes=["mv-join-code"])
            solara.InputText("Nickname", value=nickname, classes=["mv-join-nickname"])
            solara.Button("Join", color="primary", on_click=join, classes=["mv-join-button"])
            if problem.value:
                note(esc(problem.value), "mv-miss mv-problem")
        StartClass(store)


@solara.component
def StartClass(store: ClassStore) -> None:
    """A teacher starts a class from the page (the command line does the same)."""
    router = solara.use_router()
    name = solara.use_reactive("")
    scenario = solara.use_reactive(scenario_label(scenario_files()[0]))
    seed = solara.use_reactive("")
    problem = solara.use_reactive("")

    def start() -> None:
        try:
            session = store.create_class(name.value, scenario.value, seed.value or None)
        except ClassError as error:
            problem.set(str(error))
            return
        router.push(f"/?teacher={session.token}")

    with solara.Details("Teachers: start a class"), solara.Card(classes=["mv-start"]):
        solara.InputText("Class name", value=name, classes=["mv-start-name"])
        solara.Select(
            "Scenario", values=[scenario_label(f) for f in scenario_files()], value=scenario
        )
        solara.InputText("Seed (empty: the scenario's)", value=seed)
        solara.Button(
            "Start the class", color="primary", on_click=start, classes=["mv-start-button"]
        )
        if problem.value:
            note(esc(problem.value), "mv-miss mv-problem")


@solara.component
def Unknown(what: str) -> None:
    """A token that is not in the store."""
    with solara.Column(style={"padding": "24px"}):
        note(
            f"This {what} link is not one of this server's classes. Open the page without it to "
            "join a class with its code.",
            "mv-miss mv-unknown",
        )


# --- a student -----------------------------------------------------------------------------


@solara.component
def StudentPage(store: ClassStore, token: str) -> None:
    """A student's page, if the token is a student's."""
    student = solara.use_memo(lambda: store.student_by_token(token), dependencies=[token])
    if student is None:
        Unknown("student")
    else:
        StudentView(store, student)


def _student_run(store: ClassStore, student: Student) -> StudentRun | str:
    try:
        return StudentRun(store, student)
    except ClassError as error:  # a store written by another version of the episodes
        return str(error)


@solara.component
def StudentView(store: ClassStore, student: Student) -> None:
    """A student's own run, continued from the store."""
    run = solara.use_memo(lambda: _student_run(store, student), dependencies=[student.id])
    opened = use_poll(lambda: store.debrief_open(student.class_id), [student.id])
    if isinstance(run, str):
        note(esc(run), "mv-miss mv-problem")
        return
    session = run.session
    solara.Style(CSS + CLASS_CSS)
    with solara.Column(style={"padding": "8px 16px 0 16px"}):
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                f"<b>{esc(session.name)}</b> \u00b7 you are <b>{esc(run.student.nickname)}</b> "
                f"\u00b7 {esc(scenario_label(session.scenario_file))} \u00b7 seed {session.seed}"
                " \u00b7 <span class='mv-muted'>this page's address is yours: reopen it to "
                "continue</span>"
            ),
            classes=["mv-class-head", "mv-student"],
            attributes={"data-debrief": "open" if opened else "closed"},
        )
    Dashboard(run.model, stepping=False, debrief_opened=bool(opened))


# --- the instructor ------------------------------------------------------------------------


def header_html(view: ClassView, address: str) -> str:
    """The class's code, how to join, and who has finished."""
    session = view.session
    return (
        f"<div class='mv-question'>{esc(session.name)}</div>"
        f"<div>Students open <b>{esc(address)}</b> and enter the code</div>"
        f"<div class='mv-code'>{esc(session.code)}</div>"
        f"<div>{esc(scenario_label(session.scenario_file))} \u00b7 seed {session.seed} \u00b7 "
        f"{session.replicates} runs per student \u00b7 {len(view.progress)} students \u00b7 "
        f"{view.finished} finished \u00b7 debrief "
        f"{'open' if session.debrief_open else 'closed'}</div>"
    )


def students_html(view: ClassView) -> str:
    """Who has joined, how far each has got, who has finished."""
    if not view.progress:
        return "<p class='mv-muted'>No student has joined yet.</p>"
    rows = []
    for entry in view.progress:
        student = entry.student
        done = (
            "<span class='mv-match'>finished</span>"
            if student.finished
            else (month_label(entry.month) if entry.month is not None else "not started")
        )
        rows.append(
            f"<tr data-nickname='{esc(student.nickname)}' data-choices='{entry.choices}'>"
            f"<td>{esc(student.nickname)}</td><td>{entry.choices}</td><td>{entry.chosen}</td>"
            f"<td>{entry.as_astana} of {entry.documented}</td><td>{done}</td>"
            f"<td><a href='/?student={esc(student.token)}' target='_blank'>their page</a></td>"
            "</tr>"
        )
    head = (
        "<tr><th>Nickname</th><th>Decisions met</th><th>Chosen themselves</th>"
        "<th>As Astana did</th><th>Reached</th><th>Rejoin link</th></tr>"
    )
    return f"<table class='mv-table'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def decisions_html(view: ClassView) -> str:
    """Per decision: the class's choices, Astana's recorded choice, the model's odds."""
    if not view.decisions:
        return "<p class='mv-muted'>No choice made yet.</p>"
    rows = []
    for tally in reversed(view.decisions):  # newest first, as the event log
        counts = " \u00b7 ".join(
            f"{esc(plain(o))}&nbsp;{n}" + (f"&nbsp;({percent(s)})" if tally.chosen else "")
            for o, n, s in zip(tally.options, tally.counts, tally.shares, strict=True)
        )
        model = (
            " \u00b7 ".join(
                f"{esc(plain(o))}&nbsp;{percent(p)}"
                for o, p in zip(tally.options, tally.model, strict=True)
            )
            if tally.model
            else "<span class='mv-muted'>not posed in the model's run</span>"
        )
        recorded = (
            esc(plain(tally.recorded)) if tally.recorded else "<span class='mv-muted'>-</span>"
        )
        rows.append(
            f"<tr data-key='{esc(tally.key)}' data-chosen='{tally.chosen}' "
            f"data-left='{tally.left}'>"
            f"<td>{month_label(tally.month)}</td><td>{esc(plain(tally.title))}</td>"
            f"<td>{counts}"
            + (
                f"<br><span class='mv-muted'>{tally.left} left it to the model</span>"
                if tally.left
                else ""
            )
            + f"</td><td>{recorded}</td><td>{model}</td></tr>"
        )
    head = (
        "<tr><th>Month</th><th>Decision</th><th>The class chose (students, share)</th>"
        "<th>Astana's recorded choice</th><th>The model's probabilities (its own run)</th></tr>"
    )
    return (
        "<div class='mv-scroll'><table class='mv-table'>"
        f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


@solara.component
def InstructorPage(store: ClassStore, token: str) -> None:
    """The instructor's page, if the token is a class's."""
    session = solara.use_memo(lambda: store.class_by_token(token), dependencies=[token])
    if session is None:
        Unknown("instructor")
    else:
        ClassDashboard(store, session)


@solara.component
def ClassDashboard(store: ClassStore, session: ClassSession) -> None:
    """The instructor's live view of one class."""
    revision = use_poll(lambda: store.revision(session.id), [session.id])
    exported = solara.use_reactive("")
    view = solara.use_memo(
        lambda: class_view(store, store.class_by_id(session.id) or session),
        dependencies=[session.id, revision],
    )
    paths = solara.use_memo(lambda: png(class_paths_figure(view_paths(view))), dependencies=[view])
    choices = solara.use_memo(
        lambda: png(class_choices_figure(view_tallies(view))), dependencies=[view]
    )
    address = os.environ.get("MULTIVECTOR_CLASS_ADDRESS", "this server's address")

    def set_debrief(open_: bool) -> None:
        store.set_debrief(session.id, open_)

    def export() -> None:
        try:
            written = export_class(store, view.session, export_folder(store, view.session))
        except Exception as error:  # a full disk, a locked folder: say so on the page
            exported.set(f"Export failed: {error}")
            return
        exported.set("Written: " + ", ".join(str(p) for p in written))

    solara.Style(CSS + CLASS_CSS)
    with solara.Column(style={"padding": "8px 16px 48px 16px"}):
        with solara.Card("Your class", classes=["mv-instructor"]):
            solara.HTML(
                tag="div",
                unsafe_innerHTML=header_html(view, address),
                classes=["mv-class-head", "mv-class"],
                attributes={
                    "data-students": str(len(view.progress)),
                    "data-finished": str(view.finished),
                    "data-choices": str(sum(len(c) for c in view.choices.values())),
                    "data-debrief": "open" if view.session.debrief_open else "closed",
                },
            )
            with solara.Row():
                if view.session.debrief_open:
                    solara.Button(
                        "Close the debrief",
                        outlined=True,
                        on_click=lambda: set_debrief(False),
                        classes=["mv-close-debrief"],
                    )
                else:
                    solara.Button(
                        "Open the debrief for all",
                        color="primary",
                        on_click=lambda: set_debrief(True),
                        classes=["mv-open-debrief"],
                    )
                solara.Button(
                    "Export CSV and figures", outlined=True, on_click=export, classes=["mv-export"]
                )
                solara.FileDownload(
                    lambda: export_csv(class_view(store, view.session)).encode(),
                    filename=f"class-{view.session.code}-choices.csv",
                    label="Download the CSV",
                )
            if exported.value:
                note(esc(exported.value), "mv-muted mv-exported")
        with solara.Card("Students", classes=["mv-students"]):
            solara.HTML(tag="div", unsafe_innerHTML=students_html(view))
        with solara.Card(
            "The class's alignment paths beside the model's fan", classes=["mv-class-paths"]
        ):
            solara.Image(paths, width="100%")
        with solara.Card("Decisions: the class, Astana and the model", classes=["mv-decisions"]):
            solara.HTML(tag="div", unsafe_innerHTML=decisions_html(view))
            solara.Image(choices, width="100%")


# --- the app -------------------------------------------------------------------------------


@solara.component
def Page() -> None:
    """The class sessions' app: the page the address's query asks for."""
    router = solara.use_router()
    store = class_store()
    teacher = query_value(router.search, "teacher")
    student = query_value(router.search, "student")
    solara.Title("Multivector class session")
    if teacher is not None:
        InstructorPage(store, teacher)
    elif student is not None:
        StudentPage(store, student)
    else:
        JoinPage(store)


page = Page


def serve_class(
    store: Path, host: str = "127.0.0.1", port: int = 8765, address: str | None = None
) -> None:
    """Serve the class pages on the store until interrupted (blocking).

    Args:
        store: The class store (SQLite).
        host: Address to bind (loopback unless told).
        port: Port.
        address: The address students open, as the instructor's page tells them.
    """
    os.environ[STORE_VARIABLE] = str(Path(store).resolve())
    os.environ["MULTIVECTOR_CLASS_ADDRESS"] = address or f"http://{host}:{port}/"
    serve(host, port, app=APP, what="class sessions")
