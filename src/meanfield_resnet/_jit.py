"""The one project-wide numba policy.

Every kernel is compiled through :func:`jit`: cached on disk (Snakemake jobs are separate
processes and must not each pay the compile), ``error_model="numpy"`` (the Python error
model inserts zero-division checks that stop vectorisation), no ``fastmath`` (results must
not depend on reassociation, so serial and parallel runs agree bit for bit).

**Where the cache lives.** numba keys a cached kernel on its own source file only: a kernel
that calls a kernel of another module (every solver calls ``activations.sigma``) would keep
its stale machine code after that module changed. So the cache directory is keyed on the
source of every module that defines kernels (:func:`kernel_sources_digest`):
``<base>/<digest>``, with ``<base>`` the environment variable ``MEANFIELD_RESNET_CACHE_DIR``,
else ``NUMBA_CACHE_DIR``, else ``$XDG_CACHE_HOME/meanfield_resnet/numba`` (``~/.cache/...``).
An edited kernel module recompiles everything once; nothing is written beside the sources;
the three most recent digests are kept.

**Threads beside other work.** numba's parallel regions run on GNU OpenMP, whose threads
spin at every barrier (300 000 rounds by default) before they sleep. With another busy
process on the same cores (a shared cluster node, two jobs on one machine) a spinning
thread takes the time slice its partner needs: a 2-thread solve of 8000 cells took 4.8x
its 1-thread time beside one busy process. ``GOMP_SPINCOUNT=300`` (set here unless the
environment sets it, before numba starts its threads) lets a waiting thread spin a few
microseconds, enough for the next parallel region of an unshared machine, then sleep:
beside a busy process the same solve then takes about 1.2x the 1-thread time, and alone
it keeps the full 2-thread speed. (``OMP_WAIT_POLICY=PASSIVE``, no spinning at all, is as
fast as 1 thread beside a busy process but 20-40 % slower alone on grids of 10^3-10^4
cells, where the wake-up after every pass shows; ``benchmarks/threads.py``.)
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "300")  # read when numba's OpenMP pool starts

import numba  # noqa: E402
from llvmlite import ir
from numba import types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}
KEPT_CACHES = 3


def kernel_sources_digest() -> str:
    """SHA-256 (16 hex digits) of the package modules that define or call kernels: this one
    and every module importing it."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        text = path.read_bytes()
        if path.name == "_jit.py" or b"from ._jit import" in text:
            digest.update(path.name.encode() + b"\0" + text)
    return digest.hexdigest()[:16]


def _cache_base() -> Path:
    for var in ("MEANFIELD_RESNET_CACHE_DIR", "NUMBA_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "meanfield_resnet" / "numba"


def _use_cache_dir() -> None:
    """Point numba's cache at <base>/<digest> (for this process and the processes it
    starts) and drop all but the most recent KEPT_CACHES digests."""
    base = _cache_base()
    path = base / kernel_sources_digest()
    os.environ["MEANFIELD_RESNET_CACHE_DIR"] = str(base)
    os.environ["NUMBA_CACHE_DIR"] = str(path)  # numba re-reads its config from the environment
    numba.config.CACHE_DIR = str(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        os.utime(path)
        old = sorted(base.iterdir(), key=lambda p: p.stat().st_mtime)[:-KEPT_CACHES]
        for stale in old:
            if stale.is_dir() and len(stale.name) == 16:
                shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        pass  # unwritable: numba falls back to its own cache locations


_use_cache_dir()


def jit(func=None, *, parallel: bool = False, inline: bool = False):
    """Compile ``func`` with the project's numba options (usable with or without arguments).

    ``inline=True`` inlines a small helper into its callers at numba's level: LLVM alone does
    not inline a helper as large as the limited WENO flux, and a call inside a loop stops
    the loop from vectorising."""

    def wrap(f):
        extra = {"inline": "always"} if inline else {}
        return numba.njit(parallel=parallel, **_OPTIONS, **extra)(f)

    return wrap if func is None else wrap(func)


def set_threads(threads: int) -> None:
    """Use ``threads`` numba threads (clamped to what numba was started with)."""
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


@intrinsic
def _mxcsr_update(typingctx, keep, bits):
    """MXCSR = (MXCSR & keep) | bits (x86 SSE control register); returns the old value."""

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        slot = builder.alloca(ir.IntType(32))
        fnty = ir.FunctionType(ir.VoidType(), [i8p])
        mod = builder.module
        store = mod.globals.get("llvm.x86.sse.stmxcsr") or ir.Function(
            mod, fnty, "llvm.x86.sse.stmxcsr"
        )
        load = mod.globals.get("llvm.x86.sse.ldmxcsr") or ir.Function(
            mod, fnty, "llvm.x86.sse.ldmxcsr"
        )
        ptr = builder.bitcast(slot, i8p)
        builder.call(store, [ptr])
        old = builder.load(slot)
        builder.store(builder.or_(builder.and_(old, args[0]), args[1]), slot)
        builder.call(load, [ptr])
        return old

    return types.uint32(types.uint32, types.uint32), codegen


@intrinsic
def float_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits`` (vectorises, unlike
    math.ldexp: used to build 2^n in the exponential)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's ``llvm.fma.f64``: one instruction where the CPU has
    FMA, and vectorised with the loop around it). The kernels are compiled without
    ``fastmath``, so products and sums are never fused on their own; a polynomial written
    with this fuses exactly where it says so, with the same bits on every run."""

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        signature = ir.FunctionType(double, [double, double, double])
        fused = builder.module.declare_intrinsic("llvm.fma", [double], signature)
        return builder.call(fused, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@intrinsic
def bits_from_float(typingctx, value):
    """The int64 bit pattern of the float64 ``value``. For x >= 0 (sign bit cleared) the
    patterns order like the numbers, and NaN above +inf: a running maximum over them
    vectorises as an integer reduction (a float max does not without fastmath) and
    propagates NaN."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@numba.njit(cache=True)
def _update_mxcsr(keep, bits):
    return _mxcsr_update(keep, bits)


_X86 = platform.machine().lower() in ("x86_64", "amd64")
_FTZ_DAZ = 0x8040


@contextmanager
def subnormals_flushed():
    """Flush subnormal numbers to zero (FTZ and DAZ bits of MXCSR) while solving.

    The far tails of a Gaussian or of a decaying density are subnormal, and arithmetic on
    them is many times slower; values below 2.2e-308 carry no information here. Every solver
    entry point runs inside this context before its first kernel, so numba's worker threads,
    created on the first parallel call, inherit the setting; the calling thread's state is
    restored on exit. A no-op off x86.
    """
    if not _X86:
        yield
        return
    old = _update_mxcsr(numba.uint32(0xFFFFFFFF), numba.uint32(_FTZ_DAZ))
    try:
        yield
    finally:
        _update_mxcsr(numba.uint32(0), numba.uint32(old))
