"""The decision-key grammar."""

from multivector.core.model import MultivectorModel
from multivector.inputs.library import load_library
from multivector.inputs.scenario import default_scenario
from multivector.keys import (
    decision_key,
    episode_of,
    is_reaction,
    is_reaction_to,
    qualified,
    reaction_key,
    split_key,
)


def test_keys_compose_and_split():
    key = decision_key("unga-68-262", "vote")
    reaction = reaction_key(key, "sanction-rus-to-kaz")
    assert key == "unga-68-262/vote" and reaction == "unga-68-262/vote>sanction-rus-to-kaz"
    assert not is_reaction(key) and is_reaction(reaction) and is_reaction_to(reaction, key)
    assert episode_of(key) == episode_of(reaction) == "unga-68-262"
    assert split_key(key) == ("unga-68-262", "vote")
    assert qualified("vote", "other") == "other/vote" and qualified(key, "other") == key


def test_compiled_decisions_follow_the_grammar():
    assert load_library().episodes
    model = MultivectorModel(default_scenario(), replicates=3)
    while model.running:
        model.step()
    records = model.recorder.decisions
    assert any(r.decision.is_reaction for r in records)
    for record in records:
        assert episode_of(record.decision.key) == record.decision.episode
