"""The kernels' normal numbers: Philox4x64-10 against numpy's bit generator, Box-Muller's
accuracy, the law of the numbers, independence of the streams, and independence of threads,
tiles and particle counts."""

import numba
import numpy as np
import pytest
from scipy import stats

from meanfield_resnet import network, normals
from meanfield_resnet._jit import set_threads

KEYS = [0, 1, 2**64 - 1, 0x0123456789ABCDEF_FEDCBA9876543210, 2**128 - 1]
COUNTERS = [0, 1, 2**64 - 5, 7 + (3 << 64) + (9 << 128), (5 << 64) + (1 << 200), 2**256 - 8]


def numpy_blocks(key, counter, blocks):
    """Blocks counter, counter + 1, ... from numpy's Philox (it steps the counter, with
    carry, before each block)."""
    bitgen = np.random.Philox(key=key, counter=(counter - 1) % 2**256)
    return bitgen.random_raw(4 * blocks).reshape(blocks, 4)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("counter", COUNTERS)
def test_raw_blocks_are_numpys_philox_bit_for_bit(key, counter):
    blocks = 5
    np.testing.assert_array_equal(
        normals.raw_blocks(key, counter, blocks), numpy_blocks(key, counter, blocks)
    )


@numba.njit
def _uniforms(words, open_closed, closed_open):
    for i in range(words.size):
        open_closed[i] = normals.uniform_open_closed(words[i])
        closed_open[i] = normals.uniform(words[i])


def test_uniforms_are_the_top_53_bits_exactly():
    words = numpy_blocks(12345, 1, 1000).ravel()
    words = np.concatenate([words, np.array([0, 1, 2**11, 2**12, 2**63, 2**64 - 1], np.uint64)])
    open_closed, closed_open = np.empty(words.size), np.empty(words.size)
    _uniforms(words, open_closed, closed_open)
    top = words >> np.uint64(11)  # < 2^53: exact in float64
    np.testing.assert_array_equal(closed_open, top.astype(float) * 2.0**-53)
    np.testing.assert_array_equal(open_closed, (top + np.uint64(1)).astype(float) * 2.0**-53)
    assert open_closed.min() == 2.0**-53 and open_closed.max() == 1.0
    assert closed_open.min() == 0.0 and closed_open.max() == 1.0 - 2.0**-53


def _stream(key, size, layer=0, component=0):
    """What fill_normals should give, from numpy's Philox words: block j // 4, word j % 4,
    Box-Muller on words (0, 1) and (2, 3); in long double where there is one."""
    counter = (layer << 64) + (component << 128)
    words = numpy_blocks(key, counter, -(-size // 4)).ravel()
    top = (words >> np.uint64(11)).astype(np.longdouble)
    u = (top[0::2] + 1) * np.longdouble(2.0) ** -53
    t = top[1::2] * np.longdouble(2.0) ** -53
    two_pi = 2 * np.longdouble("3.14159265358979323846264338327950288")
    radius = np.sqrt(-2 * np.log(u))
    z = np.empty(words.size, dtype=np.longdouble)
    z[0::2], z[1::2] = radius * np.cos(two_pi * t), radius * np.sin(two_pi * t)
    return z[:size]


@pytest.mark.skipif(
    np.finfo(np.longdouble).eps > 1e-18, reason="needs an extended long double reference"
)
def test_box_muller_within_a_few_ulp_of_an_extended_precision_reference():
    key, size = 0xC0FFEE, 1_000_000
    for layer, component in ((0, 0), (17, 1)):
        z = normals.normals(key, size, layer, component)
        ref = _stream(key, size, layer, component)
        err = np.abs(z - ref.astype(float)) / np.maximum(1.0, np.abs(ref.astype(float)))
        print(layer, component, err.max())
        assert err.max() < 1e-15


def test_normals_wrapper_slices_the_stream():
    full = normals.normals(99, 40, layer=3, component=1)
    for first, size in ((0, 40), (1, 7), (5, 30), (38, 2)):
        np.testing.assert_array_equal(
            normals.normals(99, size, layer=3, component=1, first=first), full[first : first + size]
        )


def test_moments_within_five_standard_errors_at_ten_million():
    n = 10_000_000
    z = normals.normals(2024, n, layer=1)
    # raw moments E z^k = 0, 1, 0, 3 with variances E z^2k - (E z^k)^2 = 1, 2, 15, 96
    for k, exact, variance in ((1, 0.0, 1.0), (2, 1.0, 2.0), (3, 0.0, 15.0), (4, 3.0, 96.0)):
        moment = np.mean(z**k)
        print(k, moment, (moment - exact) / np.sqrt(variance / n))
        assert abs(moment - exact) < 5 * np.sqrt(variance / n)


@pytest.mark.parametrize("layer", [0, 1, 1000])
def test_kolmogorov_smirnov_at_a_million(layer):
    z = normals.normals(7, 1_000_000, layer=layer)
    p = stats.kstest(z, "norm").pvalue
    print(layer, p)
    assert p > 1e-3


def _assert_uncorrelated(a, b):
    n = a.size
    for fa, fb in ((a, b), (a**2, b**2), (np.abs(a), b)):
        r = np.corrcoef(fa, fb)[0, 1]
        assert abs(r) < 5 / np.sqrt(n), r


def test_streams_are_uncorrelated_across_particles_layers_components_and_keys():
    n = 1_000_000
    z = normals.normals(31, n, layer=4)
    for lag in (1, 2, 3, 4, 5, 8):  # neighbours in a Box-Muller pair, a block, the next block
        _assert_uncorrelated(z[:-lag], z[lag:])
    _assert_uncorrelated(z[0::2], z[1::2])  # the two numbers of a pair: independent normals
    _assert_uncorrelated(z, normals.normals(31, n, layer=5))
    _assert_uncorrelated(z, normals.normals(31, n, layer=4, component=1))
    _assert_uncorrelated(z, normals.normals(32, n, layer=4))


def _network_normals(m, d, layer, key, threads):
    """The normals the network adds at ``layer``: one layer from x = 0 with no drift (W = 0,
    b = 0, identity) and 2 dt K = 1 leaves x = ξ exactly."""
    x = np.zeros((m, d))
    layers = layer + 1
    weights, biases = np.zeros((layers, d, d)), np.zeros((layers, d))
    set_threads(threads)
    try:
        network.advance_stochastic(
            x, 0, weights, biases, 0.5, layer, layers, np.uint64(key), 0, np.ones(1), 0.0, 1.0
        )
    finally:
        set_threads(numba.config.NUMBA_NUM_THREADS)
    return x


@pytest.mark.parametrize("d", [1, 2])
def test_network_draws_particle_i_number_i_whatever_the_threads_and_particles(d):
    key, layer = 2**64 - 5, 6
    m = 3 * network.BLOCK + 7  # several tiles, a partial last tile and last block
    one = _network_normals(m, d, layer, key, 1)
    two = _network_normals(m, d, layer, key, 2)
    np.testing.assert_array_equal(one, two)
    for r in range(d):
        np.testing.assert_array_equal(one[:, r], normals.normals(key, m, layer, r))
    for fewer in (1, 5, network.BLOCK - 1, network.BLOCK + 2):
        np.testing.assert_array_equal(_network_normals(fewer, d, layer, key, 2), one[:fewer])
