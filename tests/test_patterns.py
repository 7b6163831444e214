"""The history run reproduces the documented patterns of ../shared/model-brief.md."""

import tomllib
from collections import Counter

import pytest

from multivector.actors import INDEX
from multivector.analysis.patterns import PATTERNS, evaluate, load_patterns
from multivector.runs.runner import run_scenario

# A regression guard, not a target met with room to spare. Calibrated on the library's 127
# choices alone the model reproduced 23 of 29 checks in simulation at seed 7. Calibrated on the
# whole UN voting record as well (issue 13: 6,138 choices, 6,011 of them routine votes) it
# reproduces 20 of 29: it gained the three 2017 Security Council abstentions and lost five
# Kazakh choices (the abstentions on 68/262 and ES-11/1, the "no" on 73/263, backing off the
# Donbas venue, complying with sanctions without joining them) and the rise of alignment toward
# China in 2022. Refitted on the record to March 2026 (issue 14: 6,259 choices) it reproduces
# 21 of 29 in the 1,000-replicate run, the "no" on 73/263 regained. docs/ODD.md (section 1)
# lists the misses. A change that loses pattern fit below 20 of 29, or leaves a pattern with no
# reproduced check, fails here.
REQUIRED_SHARE = 20 / 29


@pytest.fixture(scope="module")
def run(history):
    return run_scenario(history, replicates=300, seed=7)


@pytest.fixture(scope="module")
def patterns(run):
    return evaluate(run)


def test_every_pattern_is_checked(patterns):
    assert [p["id"] for p in patterns] == [p.id for p in load_patterns()]
    for pattern in patterns:
        assert pattern["judged"] == len(pattern["checks"]), pattern["id"]  # none absent


def test_history_run_reproduces_the_documented_patterns(patterns):
    judged = sum(p["judged"] for p in patterns)
    passed = sum(p["passed"] for p in patterns)
    failed = [c["check"] for p in patterns for c in p["checks"] if c["passed"] is False]
    assert passed >= REQUIRED_SHARE * judged, f"{passed}/{judged} passed; failed: {failed}"
    for pattern in patterns:
        assert pattern["passed"] >= 1, (pattern["id"], failed)


def test_choice_checks_report_the_share_of_the_expected_option(run, patterns):
    """Recount each choice check from the run's own records: the share of the expected option
    among the replicates where the decision was posed, and whether it is the modal choice."""
    written = tomllib.loads(PATTERNS.read_text())["pattern"]
    records = {}
    for record in run.decisions():
        records.setdefault(record.decision.key, []).append(
            (record.decision, record.posed, record.choices)
        )
    judged = 0
    for spec, pattern in zip(written, patterns, strict=True):
        assert spec["id"] == pattern["id"]
        for check, result in zip(spec["checks"], pattern["checks"], strict=True):
            if check["kind"] != "choice":
                continue
            # a documented decision is posed in one month: its record is unambiguous
            [(decision, posed, choices)] = records[check["decision"]]
            column = decision.deciders.index(INDEX[check["decider"]])
            made = Counter(decision.options[c] for c in choices[posed, column].tolist())
            total = sum(made.values())
            if total == 0:
                assert result["passed"] is None and result.get("absent"), result
                continue
            judged += 1
            share = made[check["expect"]] / total
            assert abs(result["share"] - share) <= 5e-4, (check, result, share)
            top = max(made.values())
            assert made[result["modal"]] == top, (check, result, made)
            if made[check["expect"]] == top and list(made.values()).count(top) > 1:
                # a tie for the mode: either tied option may be reported, consistently
                assert result["passed"] is (result["modal"] == check["expect"]), (check, result)
            else:
                assert result["passed"] is (made[check["expect"]] == top), (check, result, made)
    assert judged >= 20, "the choice checks were hardly exercised"
