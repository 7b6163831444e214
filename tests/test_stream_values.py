"""The random streams are exactly the documented generator, bit for bit.

:mod:`multivector.core.streams` documents its generator: the SplitMix64 finaliser applied in
turn to the seed, the replicate, a 64-bit word of the decision key (the first 8 bytes of its
SHA-256, little-endian) and the player. The reference below re-implements that definition with
Python integers (no NumPy, no overflow), so any change to a constant, a shift or the order of
the steps changes the numbers and is caught.
"""

import hashlib
import warnings

import numpy as np
import pytest

from multivector.core.streams import key_word, uniforms

MASK = 2**64 - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB


def reference_mix(x: int) -> int:
    """SplitMix64's finaliser (Steele, Lea and Flood 2014), on Python integers."""
    x = ((x ^ (x >> 30)) * M1) & MASK
    x = ((x ^ (x >> 27)) * M2) & MASK
    return x ^ (x >> 31)


def reference_key_word(key: str) -> int:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return sum(byte << (8 * k) for k, byte in enumerate(digest[:8]))  # little-endian


def reference_uniform(seed: int, replicate: int, key: str, player: int) -> float:
    base = reference_mix((seed % 2**64 + GOLDEN) & MASK)
    x = reference_mix(base ^ ((replicate * GOLDEN + 1) & MASK))
    x = reference_mix(x ^ reference_key_word(key))
    x = reference_mix((x + (player + 1) * GOLDEN) & MASK)
    return (x >> 11) / 2.0**53


def test_the_finaliser_matches_published_splitmix64_outputs():
    """The reference is SplitMix64: seeded with 1234567, its first outputs are the published
    ones (the generator adds the golden gamma to its state, then finalises)."""
    state, outputs = 1234567, []
    for _ in range(3):
        state = (state + GOLDEN) & MASK
        outputs.append(reference_mix(state))
    assert outputs == [6457827717110365317, 3203168211198807973, 9817491932198370423]


def test_key_word_is_the_little_endian_head_of_sha256():
    for key in ("", "k", "unga-68-262-crimea/vote@24170", "eaeu-2014/join@24173", "ü"):
        assert key_word(key) == reference_key_word(key), key
    # little-endian: the first digest byte is the lowest of the word
    digest = hashlib.sha256(b"k").digest()
    assert key_word("k") & 0xFF == digest[0]
    assert key_word("k") >> 56 == digest[7]


SEEDS = [0, 1, 7, 2**32 + 5, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**64 + 12345, 3**45]
KEYS = ["unga-68-262-crimea/vote@24170", "eaeu-2014/join@24173", "", "k"]


@pytest.mark.parametrize("seed", SEEDS)
def test_uniforms_match_the_reference_bit_for_bit(seed):
    replicates = np.array([0, 1, 2, 3, 613, 65535, 65536, 2**32 + 1, 2**40 + 7, 2**62 + 3])
    for key in KEYS:
        for player in range(6):
            got = uniforms(seed, replicates, key, player)
            assert got.dtype == np.float64 and got.shape == replicates.shape
            expected = [reference_uniform(seed, int(r), key, player) for r in replicates]
            assert got.tolist() == expected, (seed, key, player)


@pytest.mark.parametrize("seed", [-1, -2, -(2**63), -(2**64) - 3])
def test_negative_and_huge_seeds_are_taken_modulo_two_to_the_64(seed):
    """A seed is used modulo 2**64: -1 is the same stream as 2**64 - 1."""
    replicates = np.arange(50)
    got = uniforms(seed, replicates, KEYS[0], 2)
    assert got.tolist() == [reference_uniform(seed, int(r), KEYS[0], 2) for r in replicates]
    assert np.array_equal(got, uniforms(seed % 2**64, replicates, KEYS[0], 2))
    assert np.array_equal(got, uniforms(seed + 2**64, replicates, KEYS[0], 2))


def test_drawing_raises_no_warning():
    """64-bit wrap-around is the generator's arithmetic, not an overflow to warn about."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in (0, 2**63, 2**64 - 1):
            u = uniforms(seed, np.arange(10), KEYS[0], 5)
            assert u.min() >= 0.0 and u.max() < 1.0
