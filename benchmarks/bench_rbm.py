"""Benchmark of RBM training: skmv against scikit-learn and against the BLAS.

Run it with ``make bench``, or directly::

    .venv/bin/python benchmarks/bench_rbm.py            # full size, a few minutes
    .venv/bin/python benchmarks/bench_rbm.py --quick    # smoke test, seconds
    .venv/bin/python benchmarks/bench_rbm.py --help

What is measured
----------------
For each shape (rows x visible units -> hidden units, for a number of epochs
in mini-batches of 100 rows), on one data set of uniform random values in
[0, 1] drawn with a fixed seed, in one process:

``numpy GEMM``
    The float32 matrix products of one CD-1 step and nothing else, with plain
    NumPy, looped over the epoch's mini-batches: ``v @ W.T``, ``h @ W``,
    ``v' @ W.T`` and the weight gradient as one product of shape
    (2b x n_h)^T (2b x n_v), the way skmv computes it. It is the ceiling of
    any RBM trainer on this machine, measured in the same run.
``skmv ... PCD-1``
    skmv's ``BernoulliRBM`` and ``GaussianBernoulliRBM`` with the settings of
    scikit-learn's ``BernoulliRBM``: persistent chains, k=1, no momentum, no
    weight decay, no shuffling, learning rate 0.01 (0.001 for Gaussian
    visible units, which diverge at 0.01). skmv computes in float32
    by default; on float64 input its conversion to float32 is part of the
    time.
``skmv ... defaults``
    The same estimators with skmv's defaults: CD-1 with momentum, weight decay
    and shuffled mini-batches.
``sklearn BernoulliRBM``
    ``sklearn.neural_network.BernoulliRBM`` (same n_components, batch size,
    epochs and learning rate) on the float32 and on the float64 input.

Every method is credited with the same work, 10 * n_samples * n_visible *
n_hidden floating-point operations per epoch (five GEMM-sized products per
mini-batch), so that GFLOP/s, percent of the GEMM ceiling and time compare
alike. Each time is the median of ``--repeats`` fits (``--repeats-sklearn``
for scikit-learn, which is slow), after one untimed warm-up fit of each method
on the first 10 mini-batches (it pays for thread start-up, lazy imports,
first-touch page faults of the weight-sized buffers and, on a GPU, kernel
compilation). The timed fits go round the methods in turn, so that load from
elsewhere on the machine spreads over all of them; the ``spread`` column,
(slowest - fastest) / median, shows how much there was: numbers with a large
spread are not to be trusted.

Targets, checked for skmv's ``BernoulliRBM`` with matched settings (the
like-for-like comparison) and printed as PASS/FAIL: at least 3x faster than
scikit-learn on float32 input, 4x on float64 input, and at least 70% of the
same-run GEMM throughput.

GPU part: where CuPy sees a CUDA device, the paper's scale (38000 x 7443 ->
1024) is trained with ``device="cuda"`` on data generated on the GPU, timed
with device synchronisation; target below 0.1 s per epoch. ``--tf32`` lets
cuBLAS use TF32 tensor cores for the float32 products (``CUPY_TF32=1``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from _common import machine_lines, verdict
from sklearn.neural_network import BernoulliRBM as SklearnBernoulliRBM

from skmv import _backend
from skmv.rbm import BernoulliRBM, GaussianBernoulliRBM

SEED = 0
FULL_SHAPES = ["8000x1052:2", "4000x7443:1"]
QUICK_SHAPES = ["1000x1052:2", "500x7443:1"]
GPU_FULL_SHAPE = "38000x7443:2"
GPU_QUICK_SHAPE = "3800x7443:1"
PAPER_GPU_SIZE = (38000, 7443)
# Rows of the untimed warm-up fit, in mini-batches.
WARMUP_BATCHES = 10
# Learning rates of the runs matched to scikit-learn: small, so that nothing
# diverges on random data. Gaussian visible units with persistent chains need
# a smaller one (0.01 diverges within an epoch on uniform [0, 1] data).
MATCHED_LEARNING_RATE = 0.01
MATCHED_LEARNING_RATE_GAUSSIAN = 0.001

TARGET_SPEEDUP_F32 = 3.0
TARGET_SPEEDUP_F64 = 4.0
TARGET_GEMM_FRACTION = 0.70
TARGET_GPU_SECONDS_PER_EPOCH = 0.1


# --------------------------------------------------------------------------
# Shapes and methods
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    rows: int
    cols: int
    epochs: int

    def __str__(self):
        plural = "s" if self.epochs != 1 else ""
        return f"{self.rows} x {self.cols}, {self.epochs} epoch{plural}"


def parse_shape(text):
    """``ROWSxCOLS`` or ``ROWSxCOLS:EPOCHS`` (one epoch by default)."""
    try:
        size, _, epochs = text.partition(":")
        rows, cols = (int(x) for x in size.lower().split("x"))
        shape = Shape(rows, cols, int(epochs) if epochs else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ROWSxCOLS[:EPOCHS], e.g. 8000x1052:2, got {text!r}"
        ) from None
    if min(shape.rows, shape.cols, shape.epochs) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return shape


def flops(shape, n_hidden):
    """Floating-point operations credited to every method for one fit."""
    return 10 * shape.rows * shape.cols * n_hidden * shape.epochs


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    input_dtype: str  # "float32" or "float64": the array the fit is given
    fit: Callable  # fit(X, epochs)
    is_sklearn: bool = False


def cd_gemms(X, epochs, *, n_hidden, batch_size, xp):
    """The matrix products of CD-1 over X, and nothing else.

    ``xp`` is numpy or cupy. Outputs go into buffers allocated once, so that
    only the GEMMs are timed; their values are irrelevant to the time.
    """
    n, d = X.shape
    b = min(batch_size, n)
    W = xp.full((n_hidden, d), 0.01, dtype=xp.float32)
    H = xp.empty((b, n_hidden), dtype=xp.float32)
    V = xp.empty((b, d), dtype=xp.float32)
    Hs = xp.full((2 * b, n_hidden), 0.5, dtype=xp.float32)
    Xs = xp.full((2 * b, d), 0.5, dtype=xp.float32)
    grad = xp.empty((n_hidden, d), dtype=xp.float32)
    for _ in range(epochs):
        for start in range(0, n, b):
            v = X[start : start + b]
            m = v.shape[0]
            xp.matmul(v, W.T, out=H[:m])  # h = v W^T
            xp.matmul(H[:m], W, out=V[:m])  # v' = h W
            xp.matmul(V[:m], W.T, out=H[:m])  # h' = v' W^T
            xp.matmul(Hs[: 2 * m].T, Xs[: 2 * m], out=grad)  # [h; h']^T [v; v']


def make_methods(*, n_hidden, batch_size, device, xp, with_sklearn, with_float64):
    """The methods of one table, GEMM ceiling first."""
    common = dict(n_components=n_hidden, batch_size=batch_size, random_state=SEED)
    matched = dict(
        common,
        learning_rate=MATCHED_LEARNING_RATE,
        k=1,
        persistent=True,
        momentum=0.0,
        weight_decay=0.0,
        shuffle=False,
        device=device,
    )
    matched_gaussian = dict(matched, learning_rate=MATCHED_LEARNING_RATE_GAUSSIAN)
    defaults = dict(common, device=device)

    def skmv_fit(cls, params):
        def fit(X, epochs):
            cls(n_iter=epochs, **params).fit(X)

        return fit

    def sklearn_fit(X, epochs):
        SklearnBernoulliRBM(
            n_iter=epochs, learning_rate=MATCHED_LEARNING_RATE, **common
        ).fit(X)

    def gemm_fit(X, epochs):
        cd_gemms(X, epochs, n_hidden=n_hidden, batch_size=batch_size, xp=xp)

    f32, f64 = "float32", "float64"
    bern, gauss = BernoulliRBM, GaussianBernoulliRBM
    methods = [
        Method("gemm", f"{xp.__name__} GEMM (CD-1 products only)", f32, gemm_fit),
        Method(
            "bern", "skmv BernoulliRBM PCD-1 (matched)", f32, skmv_fit(bern, matched)
        ),
    ]
    if with_float64:
        methods.append(
            Method(
                "bern64",
                "skmv BernoulliRBM PCD-1 (matched)",
                f64,
                skmv_fit(bern, matched),
            )
        )
    methods += [
        Method(
            "gauss",
            "skmv GaussianBernoulliRBM PCD-1 (matched)",
            f32,
            skmv_fit(gauss, matched_gaussian),
        ),
        Method(
            "bern_def",
            "skmv BernoulliRBM defaults (CD-1, mom., decay)",
            f32,
            skmv_fit(bern, defaults),
        ),
        Method(
            "gauss_def",
            "skmv GaussianBernoulliRBM defaults",
            f32,
            skmv_fit(gauss, defaults),
        ),
    ]
    if with_sklearn:
        methods += [
            Method("sk", "sklearn BernoulliRBM", f32, sklearn_fit, is_sklearn=True),
            Method("sk64", "sklearn BernoulliRBM", f64, sklearn_fit, is_sklearn=True),
        ]
    return methods


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall times of one method's fits, or why it failed."""

    times: list = field(default_factory=list)
    error: str | None = None

    @property
    def seconds(self):
        """Median time, None when the method failed."""
        return None if self.error else statistics.median(self.times)

    @property
    def spread(self):
        """(slowest - fastest) / median, None for a single fit."""
        if self.error or len(self.times) < 2:
            return None
        return (max(self.times) - min(self.times)) / self.seconds


def time_fit(method, X, epochs, sync):
    sync()
    start = time.perf_counter()
    method.fit(X, epochs)
    sync()
    return time.perf_counter() - start


def measure(methods, data, shape, *, repeats, repeats_sklearn, batch_size, sync):
    """{key: Timing} for every method.

    Every method is warmed up first; then the timed fits go round the methods
    in turn, so that a burst of load from elsewhere on the machine spreads over
    all of them instead of spoiling one.
    """
    warmup_rows = min(shape.rows, WARMUP_BATCHES * batch_size)
    results = {m.key: Timing() for m in methods}
    n_fits = {True: repeats_sklearn, False: repeats}  # by is_sklearn
    rounds = [(None, m) for m in methods]  # None: the warm-up round
    for r in range(max(n_fits.values())):
        rounds += [(r, m) for m in methods if r < n_fits[m.is_sklearn]]
    for r, method in rounds:
        timing, X = results[method.key], data[method.input_dtype]
        if timing.error:
            continue
        try:
            # A diverging fit raises and is reported in the table; its
            # overflow warnings on the way would only clutter the output.
            with np.errstate(over="ignore", invalid="ignore"):
                if r is None:
                    time_fit(method, X[:warmup_rows], 1, sync)
                else:
                    timing.times.append(time_fit(method, X, shape.epochs, sync))
        except Exception as exc:  # e.g. DivergenceError: report, go on
            first_sentence = str(exc).split(". ")[0]
            timing.error = f"{type(exc).__name__}: {first_sentence}"
    return results


def no_sync():
    pass


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def machine_report():
    return machine_lines(blas=True)


def seconds_of(results, key):
    """Median seconds of method ``key``; None when it failed or did not run."""
    timing = results.get(key)
    return timing.seconds if timing is not None else None


def print_table(methods, results, shape, n_hidden, *, per_epoch=False):
    """One row per method: time, rate, fraction of the GEMM ceiling, speed-up."""
    work = flops(shape, n_hidden)
    gemm = seconds_of(results, "gemm")
    sklearn_time = {
        "float32": seconds_of(results, "sk"),
        "float64": seconds_of(results, "sk64"),
    }
    time_header = "s/epoch" if per_epoch else "seconds"
    rate_header, scale = ("TFLOP/s", 1e12) if per_epoch else ("GFLOP/s", 1e9)
    header = (
        f"  {'method':<48} {'input':<8} {time_header:>8} {'spread':>6} "
        f"{rate_header:>8} {'% GEMM':>7} {'sklearn/this':>12}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for m in methods:
        timing = results[m.key]
        if timing.error:
            print(f"  {m.label:<48} {m.input_dtype:<8} failed: {timing.error}")
            continue
        seconds = timing.seconds
        shown = seconds / shape.epochs if per_epoch else seconds
        spread = "-" if timing.spread is None else f"{timing.spread:.0%}"
        pct = "-" if gemm is None else f"{gemm / seconds:.1%}"
        ref = sklearn_time[m.input_dtype]
        ratio = "-" if ref is None else f"{ref / seconds:.2f}x"
        print(
            f"  {m.label:<48} {m.input_dtype:<8} {shown:8.3f} {spread:>6} "
            f"{work / seconds / scale:8.2f} {pct:>7} {ratio:>12}"
        )


def check_targets(results):
    """(name, value text, passed or None when not measured) per CPU target."""

    def ratio(numerator, denominator):
        a, b = seconds_of(results, numerator), seconds_of(results, denominator)
        return None if a is None or b is None else a / b

    targets = [
        ("float32 speed-up", ratio("sk", "bern"), TARGET_SPEEDUP_F32, "{:.2f}x"),
        ("float64 speed-up", ratio("sk64", "bern64"), TARGET_SPEEDUP_F64, "{:.2f}x"),
        ("% of GEMM", ratio("gemm", "bern"), TARGET_GEMM_FRACTION, "{:.1%}"),
    ]
    return [
        (name, "not measured", None)
        if value is None
        else (name, fmt.format(value), value >= target)
        for name, value, target, fmt in targets
    ]


def print_summary(all_checks, quick):
    print()
    print(
        f"Targets for skmv BernoulliRBM PCD-1 (matched): >= {TARGET_SPEEDUP_F32:g}x "
        f"sklearn on float32 input, >= {TARGET_SPEEDUP_F64:g}x on float64 input, "
        f">= {100 * TARGET_GEMM_FRACTION:.0f}% of the same-run GEMM throughput"
    )
    overall = {}
    for shape, checks in all_checks:
        parts = []
        for name, value, passed in checks:
            parts.append(f"{name} {value} {verdict(passed)}")
            if passed is not None:
                overall[name] = overall.get(name, True) and passed
        print(f"  {str(shape):<28} " + " | ".join(parts))
    names = ("float32 speed-up", "float64 speed-up", "% of GEMM")
    print(
        "SUMMARY: "
        + ", ".join(f"{name} {verdict(overall.get(name))}" for name in names)
    )
    if quick:
        print(
            "(--quick: at these sizes skmv's fixed costs per fit, weight "
            "initialisation and the\n reconstruction-error monitor, weigh more; "
            "the targets are meant for the full shapes)"
        )


# --------------------------------------------------------------------------
# CPU and GPU parts
# --------------------------------------------------------------------------


def run_cpu(args):
    print()
    print(
        "Same FLOP count for every method. seconds: median of the repeats; spread: "
        "(slowest - fastest)\n/ median; % GEMM: of the GEMM row's rate; "
        "sklearn/this: scikit-learn's time on the\nsame input dtype divided by "
        "this method's time."
    )
    all_checks = []
    for shape in args.shapes:
        X32 = np.random.default_rng(SEED).random(
            (shape.rows, shape.cols), dtype=np.float32
        )
        data = {"float32": X32, "float64": X32.astype(np.float64)}
        methods = make_methods(
            n_hidden=args.hidden,
            batch_size=args.batch_size,
            device="cpu",
            xp=np,
            with_sklearn=not args.no_sklearn,
            with_float64=True,
        )
        print()
        print(
            f"== {shape} -> {args.hidden} hidden, batch {args.batch_size}: "
            f"{flops(shape, args.hidden) / 1e9:.1f} GFLOP per fit =="
        )
        results = measure(
            methods,
            data,
            shape,
            repeats=args.repeats,
            repeats_sklearn=args.repeats_sklearn,
            batch_size=args.batch_size,
            sync=no_sync,
        )
        print_table(methods, results, shape, args.hidden)
        all_checks.append((shape, check_targets(results)))
    print_summary(all_checks, args.quick)


def run_gpu(args):
    print()
    if not _backend.cupy_available():
        print("GPU part skipped: no CuPy or no CUDA device.")
        return
    import cupy

    shape = args.gpu_shape
    device = cupy.cuda.Device()
    name = cupy.cuda.runtime.getDeviceProperties(device.id)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    tf32 = os.environ.get("CUPY_TF32", "0") not in ("", "0")
    print(
        f"== GPU {name} (CuPy {cupy.__version__}, float32 GEMMs "
        f"{'TF32' if tf32 else 'FP32'}): {shape} -> {args.hidden} hidden, "
        f"batch {args.batch_size}: {flops(shape, args.hidden) / 1e12:.2f} TFLOP "
        "per fit =="
    )
    X = cupy.random.default_rng(SEED).random(
        (shape.rows, shape.cols), dtype=cupy.float32
    )
    methods = make_methods(
        n_hidden=args.hidden,
        batch_size=args.batch_size,
        device="cuda",
        xp=cupy,
        with_sklearn=False,
        with_float64=False,
    )
    results = measure(
        methods,
        {"float32": X},
        shape,
        repeats=args.repeats,
        repeats_sklearn=0,
        batch_size=args.batch_size,
        sync=device.synchronize,
    )
    print_table(methods, results, shape, args.hidden, per_epoch=True)
    print()
    print(f"GPU target: < {TARGET_GPU_SECONDS_PER_EPOCH:g} s per epoch", end="")
    if (shape.rows, shape.cols) != PAPER_GPU_SIZE:
        print(" (meant for 38000 x 7443, not this shape)", end="")
    print()
    for m in methods:
        seconds = seconds_of(results, m.key)
        if m.key == "gemm":
            continue
        if seconds is None:
            print(f"  {m.label:<48} n/a (failed)")
            continue
        per_epoch = seconds / shape.epochs
        passed = per_epoch < TARGET_GPU_SECONDS_PER_EPOCH
        print(f"  {m.label:<48} {per_epoch:.3f} s {verdict(passed)}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=(
            "Time RBM training: skmv against scikit-learn's BernoulliRBM and "
            "against the bare float32 GEMMs of contrastive divergence, on "
            "random data in [0, 1]; then, where CuPy sees a CUDA device, skmv "
            "on the GPU at the paper's scale."
        ),
        epilog="Full size takes a few minutes on two cores; --quick seconds.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"small shapes ({', '.join(QUICK_SHAPES)}; GPU {GPU_QUICK_SHAPE}) "
            "for a smoke test"
        ),
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        type=parse_shape,
        metavar="ROWSxCOLS[:EPOCHS]",
        help=f"CPU shapes (default: {' '.join(FULL_SHAPES)})",
    )
    parser.add_argument(
        "--gpu-shape",
        type=parse_shape,
        metavar="ROWSxCOLS[:EPOCHS]",
        help=f"GPU shape (default: {GPU_FULL_SHAPE})",
    )
    parser.add_argument(
        "--hidden", type=int, default=1024, help="hidden units (default: 1024)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=100, help="mini-batch rows (default: 100)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed fits per skmv or GEMM method; the median is shown (default: 3)",
    )
    parser.add_argument(
        "--repeats-sklearn",
        type=int,
        default=1,
        help="timed fits per scikit-learn method (default: 1)",
    )
    parser.add_argument(
        "--no-sklearn",
        action="store_true",
        help="skip scikit-learn (its speed-up targets then read n/a)",
    )
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU part")
    parser.add_argument(
        "--tf32",
        action="store_true",
        help="GPU part: let cuBLAS use TF32 tensor cores for float32 GEMMs "
        "(sets CUPY_TF32=1; lower precision, faster)",
    )
    args = parser.parse_args(argv)
    for name in ("hidden", "batch_size", "repeats", "repeats_sklearn"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.shapes is None:
        args.shapes = [
            parse_shape(s) for s in (QUICK_SHAPES if args.quick else FULL_SHAPES)
        ]
    if args.gpu_shape is None:
        args.gpu_shape = parse_shape(GPU_QUICK_SHAPE if args.quick else GPU_FULL_SHAPE)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.tf32:
        # CuPy reads it at the first float32 matmul, which comes later.
        os.environ["CUPY_TF32"] = "1"
    print("skmv RBM training benchmark")
    for line in machine_report():
        print("  " + line)
    print(
        f"  repeats: {args.repeats} (skmv, GEMM), {args.repeats_sklearn} (sklearn); "
        f"data: uniform [0, 1] float32, seed {SEED}"
    )
    run_cpu(args)
    if not args.no_gpu:
        run_gpu(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
