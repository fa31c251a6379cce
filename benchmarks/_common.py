"""What every skmv benchmark prints about the machine, and its verdicts.

Benchmarks run as scripts (``python benchmarks/bench_*.py``), so this module
is imported from the script's own folder.
"""

import os
import platform

import numpy as np
import scipy
import sklearn

import skmv

_THREAD_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUPY_TF32",
)


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines(*, versions=(), blas=False):
    """Lines describing the machine: Python, CPUs, library versions, the
    thread-related environment, and (``blas=True``) the BLAS thread pools.

    ``versions`` are extra "name version" strings for the libraries the
    benchmark depends on.
    """
    usable = (
        f", usable={len(os.sched_getaffinity(0))}"
        if hasattr(os, "sched_getaffinity")
        else ""
    )
    lines = [
        f"python {platform.python_version()} on {platform.platform()}",
        f"CPUs: os.cpu_count()={os.cpu_count()}{usable}, model: {cpu_model()}",
        f"numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, skmv {skmv.__version__}",
    ]
    if versions:
        lines.append(", ".join(versions))
    if hasattr(os, "getloadavg"):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        lines.append(f"load average at start: {load} (1, 5, 15 min)")
    lines += [f"{v}={os.environ[v]}" for v in _THREAD_VARIABLES if v in os.environ]
    if blas:
        try:
            from threadpoolctl import threadpool_info
        except ImportError:
            lines.append("threadpoolctl not installed: BLAS not recorded")
        else:
            for pool in threadpool_info():
                details = ", ".join(
                    f"{k}={pool[k]}"
                    for k in (
                        "version",
                        "architecture",
                        "threading_layer",
                        "num_threads",
                    )
                    if pool.get(k) is not None
                )
                lib = os.path.basename(pool.get("filepath", "?"))
                lines.append(
                    f"{pool['user_api']}: {pool['internal_api']} ({lib}) {details}"
                )
    return lines


def verdict(passed):
    """PASS, FAIL, or n/a for a target that was not measured (None)."""
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]
