"""Predictions: each decider's option probabilities at documented or user-written episodes.

Both ``multivector episodes`` and ``multivector predict`` replay the documented record (the
same replay the calibration scores) and read the probabilities at the episode's turn, so a
library episode written into a user's file gets exactly the probabilities ``episodes`` shows.
"""

import difflib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from multivector.actors import ACTORS
from multivector.calendar import month_label, parse_month, replay_problem
from multivector.core.model import MultivectorModel
from multivector.errors import InputError
from multivector.inputs.library import (
    Library,
    check_references,
    check_repeats,
    date_key,
    load_library,
)
from multivector.inputs.parameters import Parameters
from multivector.inputs.schema import Episode, EpisodeFile, read_toml, validate
from multivector.inputs.uncertainty import draw_parameters, point_parameters
from multivector.inputs.votes import PosedVote, load_posing, read_votes
from multivector.runs.replay import replay_record

INTERVAL = (0.05, 0.95)


@dataclass(frozen=True)
class Prediction:
    """One decider's option probabilities at one decision.

    Attributes:
        episode: Episode id.
        decision: Decision key.
        month: ``YYYY-MM``.
        title: Episode title.
        decider: Actor code.
        options: Option names.
        probabilities: At the parameter file's values.
        low: Lower end of the 90% interval over parameter draws (if drawn).
        high: Upper end of the 90% interval over parameter draws (if drawn).
        observed: The documented choice, if any.
        source_id: The row's key in a votes file, for a recorded vote.
    """

    episode: str
    decision: str
    month: str
    title: str
    decider: str
    options: tuple[str, ...]
    probabilities: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    observed: str | None = None
    source_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"source_id": self.source_id} if self.source_id else {}
        out |= {
            "episode": self.episode,
            "decision": self.decision,
            "month": self.month,
            "title": self.title,
            "decider": self.decider,
            "probabilities": {
                o: round(float(p), 4) for o, p in zip(self.options, self.probabilities, strict=True)
            },
        }
        if self.low is not None and self.high is not None:
            out["interval_90"] = {
                o: [round(float(lo), 4), round(float(hi), 4)]
                for o, lo, hi in zip(self.options, self.low, self.high, strict=True)
            }
        if self.observed is not None:
            out["observed"] = self.observed
        return out


def predictions(
    model: MultivectorModel,
    episodes: set[str] | None = None,
    point: int = 0,
    source_ids: dict[str, str] | None = None,
) -> list[Prediction]:
    """Probabilities of every decider at every library decision (or at ``episodes`` only).

    Args:
        model: A finished replay.
        episodes: Episode ids to report (the library's documented ones if None: the routine
            votes are left out).
        point: The replicate holding the point estimate; the others are parameter draws.
        source_ids: A votes file's ``source_id`` by episode id, to label its rows.
    """
    out = []
    source_ids = source_ids or {}
    for record in model.recorder.decisions:
        decision = record.decision
        if decision.is_reaction or (
            decision.routine if episodes is None else decision.episode not in episodes
        ):
            continue
        draws = np.delete(np.arange(model.replicates), point)
        for row, actor in enumerate(decision.deciders):
            probabilities = record.probabilities[:, row]
            if np.isnan(probabilities[point]).any():
                continue  # not posed in the record
            low = high = None
            if draws.size:
                low, high = np.quantile(probabilities[draws], INTERVAL, axis=0)
            observed = decision.observed.get(actor)
            out.append(
                Prediction(
                    episode=decision.episode,
                    decision=decision.key,
                    month=month_label(record.month),
                    title=decision.title,
                    decider=ACTORS[actor],
                    options=decision.options,
                    probabilities=probabilities[point],
                    low=low,
                    high=high,
                    observed=None if observed is None else decision.options[observed],
                    source_id=source_ids.get(decision.episode),
                )
            )
    return out


QUERY_VOTE_FIELDS: tuple[str, ...] = ("sponsors", "issues")
"""Fields a UN vote written for ``predict`` must give, though the library's format defaults
them to ``[]``: a vote's probabilities turn on its sponsors and what a yes upholds, so a
forgotten field would be answered as a text no one sponsors about nothing. ``[]`` says so on
purpose. (``body`` and ``date`` the format itself requires.)"""


def _misspelt(item: dict[str, Any]) -> tuple[str, str] | None:
    """An unknown key of an ``[[episode]]`` table spelt like a field it does not give.

    The schema suggests a spelling only among the fields left missing; the fields ``predict``
    fills in (``title``, ``id``, ``sources``, ``kind``) are never missing, so ``titel`` would be
    an unknown field with no hint. Returns (key, suggestion) or None.
    """
    fields = set(Episode.model_fields)
    free = sorted(fields - set(item))
    for key in item:
        if key not in fields:
            close = difflib.get_close_matches(str(key), free, n=1, cutoff=0.6)
            if close:
                return str(key), close[0]
    return None


def load_queries(path: Path) -> list[Episode]:
    """Read episodes a user wants predicted, in the library's format.

    Only what a prediction needs is required: for a UN vote, ``body``, ``date``, ``sponsors``
    (``[]`` for none), ``target`` (if any) and ``issues`` (``[]`` for none). A missing ``id``
    becomes ``query-N``, a missing ``title`` the id, missing ``sources`` "user query", and
    ``kind`` defaults to ``un_vote`` when ``body`` is given. Observed choices, if present, are
    ignored. Dates run from the record's first month to the last month the model can run to
    (:func:`~multivector.calendar.replay_problem`), and no list may name an actor, issue or
    option twice.

    Raises:
        InputError: Naming the file and the field, for the first problem found.
    """
    data = read_toml(path)
    raw = data.get("episode")
    if not isinstance(raw, list) or not raw:
        raise InputError(path, "episode", "expected at least one [[episode]] table")
    filled = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InputError(path, f"episode[{position}]", "expected a table")
        misspelt = _misspelt(item)
        if misspelt is not None:
            ident = item.get("id", f"query-{position + 1}")  # the id it would be given
            label = f"({ident})" if isinstance(ident, str) else ""
            raise InputError(
                path,
                f"episode[{position}]{label}.{misspelt[0]}",
                f"unknown field; did you mean '{misspelt[1]}'?",
            )
        item = dict(item)
        item.setdefault("id", f"query-{position + 1}")
        item.setdefault("title", str(item["id"]))
        item.setdefault("sources", ["user query"])
        if "body" in item:
            item.setdefault("kind", "un_vote")
        item.pop("observed", None)
        if isinstance(item.get("decision"), list):
            item["decision"] = [
                {k: v for k, v in d.items() if k != "observed"} if isinstance(d, dict) else d
                for d in item["decision"]
            ]
        filled.append(item)
    episodes = validate(path, {"episode": filled}, EpisodeFile).episode
    for position, episode in enumerate(episodes):
        where = f"episode[{position}]({episode.id})"
        outside = replay_problem(episode.date)
        if outside is not None:
            raise InputError(path, f"{where}.date", outside)
        if episode.kind == "un_vote":
            for name in QUERY_VOTE_FIELDS:
                if name not in episode.model_fields_set:
                    raise InputError(
                        path, f"{where}.{name}", "missing required field ([] if none applies)"
                    )
    check_repeats(path, episodes)
    ids = [e.id for e in episodes]
    if len(set(ids)) != len(ids):
        raise InputError(path, "episode", "episode ids repeat")
    return episodes


def with_queries(library: Library, queries: list[Episode], path: Path) -> Library:
    """The library with the user's episodes inserted at their dates (replacing same ids)."""
    episodes = {k: v for k, v in library.episodes.items() if k not in {q.id for q in queries}}
    episodes.update({q.id: q for q in queries})
    ordered = sorted(episodes.values(), key=lambda e: date_key(e.date))
    sources = {**library.sources, **{q.id: path for q in queries}}
    check_references({e.id: (e, sources[e.id]) for e in ordered})
    return replace(
        library,
        episodes={e.id: e for e in ordered},
        sources={e.id: sources[e.id] for e in ordered},
    )


def predict_file(
    path: Path, parameters: Parameters, draws: int = 200, seed: int = 0
) -> list[Prediction]:
    """Predict every decision of the episodes (TOML) or votes (CSV) in a file, with intervals.

    The record is replayed with the user's episodes inserted at their dates: replicate 0 uses
    the parameter file's values, the others draw from its calibration's uncertainty. A votes
    file is forecast out of time: its rows are posed as recorded votes (replacing the record's
    rows with the same ``source_id``), and from the month of its first row no documented choice
    is imposed, so a month's votes are forecast jointly, with no one's choice observed.
    """
    return forecast_file(path, parameters, draws, seed)[0]


def forecast_file(
    path: Path, parameters: Parameters, draws: int = 200, seed: int = 0
) -> tuple[list[Prediction], MultivectorModel, list[PosedVote]]:
    """:func:`predict_file`, also returning the finished replay and any votes posed."""
    posed: list[PosedVote] = []
    forecast_from = None
    if path.suffix.casefold() == ".csv":
        posed = [load_posing().pose(row, observed=False) for row in read_votes(path)]
        library = with_votes(load_library(), posed)
        wanted = {p.episode.id for p in posed}
        last = max(parse_month(p.row.date) for p in posed)
        forecast_from = min(parse_month(p.row.date) for p in posed)
        labels = {p.episode.id: p.row.source_id for p in posed}
    else:
        queries = load_queries(path)
        library = with_queries(load_library(), queries, path)
        wanted = {q.id for q in queries}
        last = max(parse_month(q.date) for q in queries)
        labels = {}
    if parameters.spec.calibration is not None and draws > 0:
        drawn = draw_parameters(parameters, draws, seed)
        point = point_parameters(parameters)
        sets = (
            np.concatenate([point[0], drawn[0]]),
            np.concatenate([point[1], drawn[1]]),
        )
    else:
        sets = point_parameters(parameters)
    model = replay_record(parameters, library, sets, last_month=last, forecast_from=forecast_from)
    return predictions(model, wanted, source_ids=labels), model, posed


def with_votes(library: Library, posed: list[PosedVote]) -> Library:
    """The library with a votes file's rows as its recorded votes (replacing the same rows).

    A row is the same as a recorded vote with its ``source_id``, or as a library episode with
    its resolution symbol (which then leaves the library: the file's row is forecast instead).
    """
    ids = {p.episode.id for p in posed}
    symbols = {p.row.resolution for p in posed if p.row.resolution}
    episodes = {k: e for k, e in library.episodes.items() if e.resolution not in symbols}
    kept = [r for r in library.recorded if r.episode.id not in ids]
    recorded = sorted([*kept, *posed], key=lambda p: p.row.date)
    return replace(library, episodes=episodes, recorded=tuple(recorded))


def score_votes(
    forecast: list[Prediction], posed: list[PosedVote], model: MultivectorModel, path: Path
) -> dict[str, Any]:
    """Score a votes file's forecasts against its recorded votes, beside the baselines.

    The baselines are fitted on the record before the file's first month, the past the
    forecast itself starts from; only rows that name the six states' votes are scored.

    Returns:
        Figures overall and by actor: ``model`` and each baseline's log-loss, Brier score and
        accuracy, as ``multivector predict --score`` prints them.
    """
    from multivector.analysis.calibration import BASELINES, Observation, breakdown, observations

    first = min(parse_month(p.row.date) for p in posed)
    training = [o for o in observations(model) if o.month < first]
    by_id = {vote.episode.id: vote for vote in posed}
    tested, forecasts = [], []
    for p in forecast:
        vote = by_id.get(p.episode)
        if vote is None:
            continue
        recorded = vote.row.observed()
        if p.decider not in recorded:
            continue
        partner = {a: recorded.get(a) for a in ("RUS", "CHN")}
        tested.append(
            Observation(
                record=-1,
                row=-1,
                choice=p.options.index(recorded[p.decider]),
                episode=p.episode,
                decision=p.decision,
                actor=p.decider,
                options=p.options,
                is_vote=True,
                russia=None
                if p.decider == "RUS" or partner["RUS"] is None
                else p.options.index(partner["RUS"]),
                china=None
                if p.decider == "CHN" or partner["CHN"] is None
                else p.options.index(partner["CHN"]),
                month=parse_month(vote.row.date),
                category="routine",
                family=vote.family,
            )
        )
        forecasts.append(p.probabilities)
    if not tested:
        raise InputError(path, "KAZ..UKR", "no recorded votes of the six states to score")
    columns = {
        "model": forecasts,
        **{name: [rule(o, training) for o in tested] for name, rule in BASELINES.items()},
    }
    figures = breakdown(tested, columns)
    return {
        "trained_before": month_label(first),
        "all": figures["all"],
        "by_actor": figures["by_actor"],
    }
