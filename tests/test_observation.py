import json
from dataclasses import replace

import numpy as np
from typer.testing import CliRunner

from multivector.actors import INDEX
from multivector.cli.commands import app
from multivector.core.observation import (
    VOTE_POSITION,
    DecisionRecord,
    agreement_scores,
    balance,
    vote_matrix,
)
from multivector.inputs.library import compile_vote, load_library
from multivector.inputs.schema import ISSUE_TAGS
from tests.conftest import HISTORY


def _positions(votes: dict[str, list[float]]) -> np.ndarray:
    n = len(next(iter(votes.values())))
    positions = np.full((1, n, 6), np.nan)
    for code, values in votes.items():
        positions[0, :, INDEX[code]] = values
    return positions


def test_identical_votes_agree_fully_and_opposite_votes_not_at_all():
    scores = agreement_scores(
        _positions({"KAZ": [1, 0, 0.5], "RUS": [1, 0, 0.5], "USA": [0, 1, 0.5]})
    )
    assert scores["KAZ-RUS"]["agreement"][0] == 1.0
    assert scores["KAZ-RUS"]["s_score"][0] == 1.0
    # yes/no twice and one shared abstention: distances 1, 1, 0 -> mean 2/3
    assert np.isclose(scores["KAZ-USA"]["agreement"][0], 1 / 3)
    assert np.isclose(scores["KAZ-USA"]["s_score"][0], -1 / 3)
    assert scores["KAZ-USA"]["votes"][0] == 3


def test_abstention_against_a_vote_counts_half():
    scores = agreement_scores(_positions({"KAZ": [0.5, 0.5], "RUS": [0, 1]}))
    assert np.isclose(scores["KAZ-RUS"]["agreement"][0], 0.5)
    assert np.isclose(scores["KAZ-RUS"]["s_score"][0], 0.0)


def test_votes_only_count_where_both_voted():
    scores = agreement_scores(_positions({"KAZ": [1, 1, np.nan], "UKR": [1, np.nan, 0]}))
    assert scores["KAZ-UKR"]["votes"][0] == 1
    assert scores["KAZ-UKR"]["agreement"][0] == 1.0
    assert np.isnan(scores["CHN-BLR"]["agreement"][0])


def test_balance_is_one_when_even_and_zero_when_polarised():
    assert balance(np.array([0.4, 0.4, 0.4])) == 1.0
    assert balance(np.array([1.0, 0.0, -1.0])) == 0.0
    assert np.isclose(balance(np.array([0.8, 0.2, 0.5])), 0.7)


# --- the recorded UN votes, counted by hand -------------------------------------------------

# The twelve votes of model/data/episodes/un_votes.toml as recorded, in date order, for KAZ, RUS
# and USA (read off the file by hand).
RECORDED = {
    "unga-68-262-crimea": ("abstain", "no", "yes"),
    "unga-71-205-crimea-rights": ("no", "no", "yes"),
    "unsc-2017-02-28-syria-cw-sanctions": ("abstain", "no", "yes"),
    "unsc-2017-04-12-khan-shaykhun": ("abstain", "no", "yes"),
    "unsc-2017-10-24-jim-renewal": ("abstain", "no", "yes"),
    "unga-72-190-crimea-rights": ("no", "no", "yes"),
    "unsc-2018-04-10-russian-douma-draft": ("yes", "yes", "no"),
    "unsc-2018-04-14-russian-draft-strikes": ("abstain", "yes", "no"),
    "unga-73-263-crimea-rights": ("no", "no", "yes"),
    "unga-es-11-1-aggression": ("abstain", "no", "yes"),
    "unga-es-11-2-humanitarian": ("abstain", "no", "yes"),
    "unga-es-11-3-hrc-suspension": ("no", "no", "yes"),
}
# Hand count over the twelve (agreement: same vote 1, one abstains 0.5, yes against no 0):
#   KAZ-RUS: same in 5 (the three Crimea rights texts, Douma, HRC), one abstains in 7 -> 8.5/12;
#            mean distance 3.5/12, S-score 1 - 7/12 = 5/12.
#   KAZ-USA: never the same, one abstains in 7 (KAZ's abstentions), yes/no in 5 -> 3.5/12;
#            mean distance 8.5/12, S-score 1 - 17/12 = -5/12.
#   RUS-USA: yes against no in all 12 -> agreement 0, S-score -1.
HAND = {
    "KAZ-RUS": (8.5 / 12, 5 / 12),
    "KAZ-USA": (3.5 / 12, -5 / 12),
    "RUS-USA": (0.0, -1.0),
}


def _recorded_votes():
    return load_library().votes


def _records(episodes) -> list:
    """DecisionRecords of one replicate in which every member cast its recorded vote."""
    stance = np.zeros((6, len(ISSUE_TAGS)))
    records = []
    for episode in episodes:
        members = sorted(INDEX[code] for code in episode.observed)
        decision = compile_vote(episode, stance, members)
        choices = np.array([[decision.observed[a] for a in decision.deciders]])
        records.append(
            DecisionRecord(
                decision,
                decision.month,
                np.ones(1, dtype=bool),
                np.full((1, len(members), 3), np.nan),
                choices,
            )
        )
    return records


def test_the_hand_table_is_the_recorded_votes():
    votes = _recorded_votes()
    assert [e.id for e in votes] == list(RECORDED)
    for episode in votes:
        recorded = tuple(episode.observed[code] for code in ("KAZ", "RUS", "USA"))
        assert recorded == RECORDED[episode.id], episode.id


def test_agreement_on_the_record_matches_the_hand_count():
    votes = _recorded_votes()
    positions = vote_matrix(_records(votes), 1)
    assert positions.shape == (1, 12, 6)
    scores = agreement_scores(positions)
    for pair, (agreement, s_score) in HAND.items():
        assert scores[pair]["votes"][0] == 12, pair
        assert np.isclose(scores[pair]["agreement"][0], agreement), pair
        assert np.isclose(scores[pair]["s_score"][0], s_score), pair
    assert np.isclose(scores["KAZ-RUS"]["agreement"][0], 0.7083, atol=5e-5)
    assert np.isclose(scores["KAZ-RUS"]["s_score"][0], 0.4167, atol=5e-5)
    # BLR sat on neither Council in these years: it shares the seven Assembly votes with KAZ
    assert scores["KAZ-BLR"]["votes"][0] == 7


def test_vote_matrix_maps_yes_abstain_no_to_one_half_zero():
    assert VOTE_POSITION == {"yes": 1.0, "abstain": 0.5, "no": 0.0}
    [record] = _records(_recorded_votes()[:1])
    deciders = record.decision.deciders  # KAZ RUS USA CHN BLR UKR, by index
    options = record.decision.options
    # replicate 0: KAZ yes, RUS abstain, USA no, the others not posed; replicate 1: the reverse
    choices = np.full((2, len(deciders)), -1)
    row = {a: d for d, a in enumerate(deciders)}
    for r, (kaz, rus, usa) in enumerate([("yes", "abstain", "no"), ("no", "abstain", "yes")]):
        choices[r, row[INDEX["KAZ"]]] = options.index(kaz)
        choices[r, row[INDEX["RUS"]]] = options.index(rus)
        choices[r, row[INDEX["USA"]]] = options.index(usa)
    positions = vote_matrix([_with_choices(record, choices)], 2)
    assert positions[0, 0, INDEX["KAZ"]] == 1.0
    assert positions[0, 0, INDEX["RUS"]] == 0.5
    assert positions[0, 0, INDEX["USA"]] == 0.0
    assert positions[1, 0, INDEX["KAZ"]] == 0.0 and positions[1, 0, INDEX["USA"]] == 1.0
    assert np.isnan(positions[:, 0, INDEX["CHN"]]).all()
    scores = agreement_scores(positions)
    assert np.allclose(scores["KAZ-RUS"]["agreement"], [0.5, 0.5])
    assert np.allclose(scores["KAZ-USA"]["agreement"], [0.0, 0.0])
    assert np.allclose(scores["KAZ-USA"]["s_score"], [-1.0, -1.0])


def _with_choices(record, choices):
    """``record`` with other choices (replicates where no one chose count as not posed)."""
    return replace(
        record,
        posed=(choices >= 0).any(axis=1),
        probabilities=np.full((*choices.shape, 3), np.nan),
        choices=choices,
    )


def test_the_run_reports_the_hand_count_as_the_record(tmp_path):
    """``multivector run`` writes the recorded agreement and S-scores of the hand count.

    Without the routine agenda (``record.votes = false``) the run's votes are the library's
    twelve, so the record's scores are those of the hand table.
    """
    out = tmp_path / "out"
    library_only = tmp_path / "history.toml"
    library_only.write_text(HISTORY.read_text().replace("votes = true", "votes = false"))
    args = ["run", str(library_only), "--replicates", "2", "--seed", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    votes = json.loads((out / "summary.json").read_text())["un_votes"]
    for pair, (agreement, s_score) in HAND.items():
        assert votes[pair]["observed_agreement"] == round(agreement, 4), pair
        assert votes[pair]["observed_s_score"] == round(s_score, 4), pair
    assert votes["KAZ-RUS"]["observed_agreement"] == 0.7083
    assert votes["KAZ-RUS"]["observed_s_score"] == 0.4167


def test_agreement_by_year_is_the_records_over_every_recorded_vote(tmp_path):
    """``un_votes_by_year`` holds the record's yearly agreement over every recorded General
    Assembly vote, computed here from the shared votes file alone, and counts the model's votes
    only where the record shows both states voting."""
    import csv

    from tests.conftest import SHARED_VOTES

    position = {"Y": 1.0, "A": 0.5, "N": 0.0}
    with SHARED_VOTES.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["date"].startswith("2021")]
    scenario = tmp_path / "year.toml"
    scenario.write_text(
        'name = "votes_2021"\nquestion = "The 2021 votes"\nstart = "2021-01"\nend = "2021-12"\n'
        "replicates = 2\nseed = 3\n\n[record]\nvotes = true\n"
    )
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out)])
    assert done.exit_code == 0, done.output
    by_year = json.loads((out / "summary.json").read_text())["un_votes_by_year"]
    for pair in ("KAZ-RUS", "KAZ-CHN", "KAZ-USA", "RUS-USA"):
        a, b = pair.split("-")
        both = [r for r in rows if r[a] in position and r[b] in position]
        agreement = sum(1 - abs(position[r[a]] - position[r[b]]) for r in both) / len(both)
        entry = by_year[pair]["2021"]
        assert entry["observed_agreement"] == round(agreement, 4), pair
        assert entry["observed_s_score"] == round(2 * agreement - 1, 4), pair
        assert entry["votes"] == len(both), pair  # the model scored on the same votes
        assert 0.0 <= entry["agreement"]["p05"] <= entry["agreement"]["p95"] <= 1.0
