"""The grammar of decision keys, in one place.

- ``episode-id/decision-name`` is a documented decision (a UN vote's is ``episode-id/vote``);
  inside an episode, a reference (``when.decision``) may leave out ``episode-id/`` to name a
  decision of the same episode.
- ``trigger-key>reaction-name`` is a reaction to the decision ``trigger-key``.
"""

EPISODE_SEPARATOR = "/"
"""Between an episode's id and its decision's name."""
REACTION_SEPARATOR = ">"
"""Between a decision's key and the name of a reaction to it."""


def decision_key(episode: str, name: str) -> str:
    """The key of an episode's decision."""
    return f"{episode}{EPISODE_SEPARATOR}{name}"


def reaction_key(trigger: str, name: str) -> str:
    """The key of a reaction to the decision ``trigger``."""
    return f"{trigger}{REACTION_SEPARATOR}{name}"


def is_reaction(key: str) -> bool:
    """Whether a key is a reaction's."""
    return REACTION_SEPARATOR in key


def is_reaction_to(key: str, trigger: str) -> bool:
    """Whether ``key`` is a reaction to the decision ``trigger``."""
    return key.startswith(trigger + REACTION_SEPARATOR)


def is_qualified(reference: str) -> bool:
    """Whether a reference names its episode (``episode-id/name``, not only ``name``)."""
    return EPISODE_SEPARATOR in reference


def qualified(reference: str, episode: str) -> str:
    """A reference as a full key: one without an episode names a decision of ``episode``."""
    return reference if is_qualified(reference) else decision_key(episode, reference)


def episode_of(key: str) -> str:
    """The episode a key belongs to."""
    return key.split(EPISODE_SEPARATOR)[0]


def split_key(key: str) -> tuple[str, str]:
    """A key's episode and the rest (a decision's name, or a decision and its reaction)."""
    episode, _, name = key.partition(EPISODE_SEPARATOR)
    return episode, name
