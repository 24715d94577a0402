"""Standard normal numbers generated inside the kernels, independent of threads and tiling.

Counter-based generator: Philox4x64-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
numbers: as easy as 1, 2, 3", SC 2011), the bit generator numpy ships as
``np.random.Philox``. A block is a pure function of a 128-bit key and a 256-bit counter and
gives four 64-bit words, so any normal can be computed on its own, in any order, by any
thread: no state is carried from one number to the next.

Streams. The normal number j = 0, 1, 2, ... of stream (layer, component) under key
(key0, key1) comes from the block with

    key = (key0, key1),   counter = (j // 4, layer, component, 0)      (64-bit words)

as its output word j % 4. In the network, j is the particle index: particle i's normal at
layer k for component r depends on (key, i, k, r) alone, not on the number of particles, the
tiles or the threads. numpy's ``np.random.Philox(key=key0 + 2**64 key1, counter=c - 1)``
gives the words of block c first (numpy steps the counter before each block), so the raw
stream can be checked against numpy bit for bit (``raw_blocks``).

Transform: Box-Muller on the pairs (word 0, word 1) and (word 2, word 3),

    z_a = sqrt(-2 ln u) cos(2π t),   z_b = sqrt(-2 ln u) sin(2π t),

u = ((w_a >> 11) + 1) 2^-53 in (0, 1], t = (w_b >> 11) 2^-53 in [0, 1) (53-bit uniforms,
made from the bits without an integer-to-float conversion, which AVX2 lacks for 64-bit
integers). The logarithm and the sine and cosine are fdlibm's polynomial kernels written
without branches or libm calls, so that the loop over blocks vectorises (there is no SVML
here: math.log, math.cos in a numba loop are scalar libm calls): ln u within 1 ulp, cos and
sin of 2πt within 1.5e-16, the normals within 5e-16 max(1, |z|) of an extended-precision
Box-Muller (tests/test_normals.py), and |z| <= sqrt(106 ln 2) ~ 8.57. All arithmetic is
integer or correctly rounded IEEE (no fastmath, no contraction), so vector and scalar code
give the same bits. On one AVX2 core this makes about twice as many normals per second as
numpy's ``standard_normal``; Philox is about half of the time, the transform the other half.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import bits_from_float, float_from_bits, jit

# Philox4x64 multipliers and Weyl key increments (Random123), multipliers split into 32-bit
# halves: AVX2 has a 32 x 32 -> 64-bit vector multiply but no 64-bit high multiply.
_M0 = 0xD2E7470EE14C6C93
_M1 = 0xCA5A826395121157
_M0_LO, _M0_HI = np.uint64(_M0 & 0xFFFFFFFF), np.uint64(_M0 >> 32)
_M1_LO, _M1_HI = np.uint64(_M1 & 0xFFFFFFFF), np.uint64(_M1 >> 32)
_W0 = np.uint64(0x9E3779B97F4A7C15)
_W1 = np.uint64(0xBB67AE8584CAA73B)
_MASK32 = np.uint64(0xFFFFFFFF)
_U11, _U12, _U32, _U52 = np.uint64(11), np.uint64(12), np.uint64(32), np.uint64(52)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)

_ONE_BITS = np.uint64(0x3FF0000000000000)  # 1.0: with 52 random mantissa bits, [1, 2)
_M53_BITS = np.int64((1023 - 53) << 52)  # 2^-53; one more in the exponent field: 2^-52
_MANTISSA = np.int64((1 << 52) - 1)
_EXP_SHIFT = np.int64(52)
_MAGIC = np.int64(0x4330000000000000)  # 2^52: an integer n < 2^52 in its low bits is 2^52 + n
_TWO52 = 4503599627370496.0

# fdlibm e_log.c: log(1 + f) = f - f²/2 + s (f²/2 + R(s²)), s = f / (2 + f)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT2 = 1.4142135623730951

# fdlibm k_sin.c / k_cos.c (FreeBSD): minimax on |x| <= π/4, below 1 ulp
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11
_TWO_PI = 6.283185307179586


@jit(inline=True)
def _mulhilo(a, m_lo, m_hi):
    """(high, low) 64-bit words of the 128-bit product a m, m = m_hi 2^32 + m_lo, from
    32 x 32 -> 64-bit products (which vectorise)."""
    a_lo = a & _MASK32
    a_hi = a >> _U32
    p00 = a_lo * m_lo
    p01 = a_lo * m_hi
    p10 = a_hi * m_lo
    p11 = a_hi * m_hi
    t = p10 + (p00 >> _U32)  # < 2^64: (2^32 - 1)² + 2^32 - 1
    u = p01 + (t & _MASK32)
    hi = p11 + (t >> _U32) + (u >> _U32)
    lo = (u << _U32) | (p00 & _MASK32)
    return hi, lo


@jit(inline=True)
def _round(c0, c1, c2, c3, k0, k1):
    hi0, lo0 = _mulhilo(c0, _M0_LO, _M0_HI)
    hi1, lo1 = _mulhilo(c2, _M1_LO, _M1_HI)
    return hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0


@jit(inline=True)
def philox4x64(c0, c1, c2, c3, k0, k1):
    """The Philox4x64-10 block of counter (c0, c1, c2, c3) under key (k0, k1), all uint64.
    The ten rounds are written out: a loop over them stops the loop over blocks from
    vectorising."""
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = k0 + _W0, k1 + _W1
    return _round(c0, c1, c2, c3, k0, k1)


@jit(inline=True)
def uniform_open_closed(w):
    """((w >> 11) + 1) 2^-53 in (0, 1], exactly: the top 52 bits as the mantissa of a number
    in [1, 2) minus 1, plus 2^-53 or 2^-52 by bit 11 (no int-to-float conversion, which
    AVX2 lacks for 64-bit integers)."""
    top = float_from_bits(np.int64((w >> _U12) | _ONE_BITS)) - 1.0
    return top + float_from_bits(np.int64(((w >> _U11) & _ONE) << _U52) + _M53_BITS)


@jit(inline=True)
def uniform(w):
    """(w >> 11) 2^-53 in [0, 1), exactly."""
    top = float_from_bits(np.int64((w >> _U12) | _ONE_BITS)) - 1.0
    half = float_from_bits(_M53_BITS)
    return top + (half if (w >> _U11) & _ONE else 0.0)


@jit(inline=True)
def log_unit(u):
    """ln u for a normal number 0 < u <= 1 (fdlibm's algorithm, branch-free, ~1 ulp)."""
    bits = bits_from_float(u)
    # the biased exponent as a float, exactly (2^52 + e minus 2^52)
    e = float_from_bits((bits >> _EXP_SHIFT) | _MAGIC) - _TWO52 - 1023.0
    m = float_from_bits((bits & _MANTISSA) | np.int64(0x3FF0000000000000))  # [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m  # [sqrt(1/2), sqrt(2)]
    e = e + 1.0 if big else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return e * _LN2_HI - ((hfsq - (s * (hfsq + r) + e * _LN2_LO)) - f)


@jit(inline=True)
def cos_sin_turns(t):
    """(cos 2πt, sin 2πt) for 0 <= t < 1: t = n/4 + r exactly (|r| <= 1/8), fdlibm's kernels
    at x = 2πr, and the quadrant n by selects."""
    n = np.floor(4.0 * t + 0.5)  # a float (math.floor gives an int: a conversion)
    x = _TWO_PI * (t - 0.25 * n)
    z = x * x
    w = z * z
    r = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    sin_x = x + z * x * (_S1 + z * r)
    r = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    cos_x = w + (((1.0 - w) - hz) + z * r)
    q = bits_from_float(n + _TWO52) & 3  # the quadrant n mod 4 as an integer
    swap = (q & 1) == 1
    c = sin_x if swap else cos_x
    s = cos_x if swap else sin_x
    c = float_from_bits(bits_from_float(c) ^ (((q ^ (q >> 1)) & 1) << 63))  # q = 1, 2: -c
    s = float_from_bits(bits_from_float(s) ^ ((q >> 1) << 63))  # q = 2, 3: -s
    return c, s


@jit(inline=True)
def box_muller(wa, wb):
    """Two independent standard normals from two 64-bit words."""
    radius = math.sqrt(-2.0 * log_unit(uniform_open_closed(wa)))
    c, s = cos_sin_turns(uniform(wb))
    return radius * c, radius * s


@jit
def fill_normals(key0, key1, layer, component, first_block, out):
    """out[4b + l] = normal of stream (layer, component) numbered 4 (first_block + b) + l,
    for 0 <= 4b + l < out.size (out.size a multiple of 4; numbers of the last block past
    out.size are not computed). key0, key1, layer, component: integers, taken as uint64
    (mixed signed and unsigned integers would make numba compute in floats)."""
    k0, k1 = np.uint64(key0), np.uint64(key1)
    c1, c2 = np.uint64(layer), np.uint64(component)
    for b in range(out.size // 4):
        w0, w1, w2, w3 = philox4x64(np.uint64(first_block + b), c1, c2, _ZERO, k0, k1)
        z0, z1 = box_muller(w0, w1)
        z2, z3 = box_muller(w2, w3)
        out[4 * b] = z0
        out[4 * b + 1] = z1
        out[4 * b + 2] = z2
        out[4 * b + 3] = z3


@jit
def _raw_blocks(key0, key1, c0, c1, c2, c3, out):
    """out[b] = the four words of block (c0 + b, c1, c2, c3), all uint64 (no carry out of
    word 0)."""
    for b in range(out.shape[0]):
        w0, w1, w2, w3 = philox4x64(c0 + np.uint64(b), c1, c2, c3, key0, key1)
        out[b, 0] = w0
        out[b, 1] = w1
        out[b, 2] = w2
        out[b, 3] = w3


def _words(value: int, count: int) -> tuple[np.uint64, ...]:
    if not 0 <= value < 2 ** (64 * count):
        raise ValueError(f"{value} does not fit in {count} 64-bit words")
    return tuple(np.uint64((value >> (64 * i)) & 0xFFFFFFFFFFFFFFFF) for i in range(count))


def raw_blocks(key: int, counter: int, blocks: int) -> np.ndarray:
    """Words of the Philox4x64-10 blocks ``counter, counter + 1, ...`` under ``key`` (integers
    of 128 and 256 bits, little-endian words as numpy's Philox takes them), shape
    (blocks, 4) uint64: the same as ``np.random.Philox(key=key, counter=counter - 1)``'s
    ``random_raw(4 * blocks)``."""
    k0, k1 = _words(key, 2)
    c = _words(counter, 4)
    if int(c[0]) + blocks > 2**64:
        raise ValueError("the blocks would carry out of the counter's first word")
    out = np.empty((blocks, 4), dtype=np.uint64)
    _raw_blocks(k0, k1, *c, out)
    return out


def normals(key: int, size: int, layer: int = 0, component: int = 0, first: int = 0):
    """Normals ``first, ..., first + size - 1`` of stream (layer, component) under the
    128-bit ``key``: what the network draws for particles first.. at that layer."""
    k0, k1 = _words(key, 2)
    start = first - first % 4
    blocks = -(-(first + size - start) // 4)
    out = np.empty(4 * blocks)
    fill_normals(k0, k1, np.uint64(layer), np.uint64(component), start // 4, out)
    return out[first - start : first - start + size]
