"""The job behind ``make demo``: learn a shared representation of two
generated modalities and show what it buys.

Two modalities ("video" and "audio") are generated from a shared latent
cause (:func:`skmv.datasets.make_paired_modalities`). Each is standardised and
encoded by its own two-layer :class:`~skmv.dbn.DBNTransformer`; a
:class:`~skmv.shared.SharedRBM` learns the joint representation. On held-out
pairs the demo prints:

* cross-modal reconstruction error: audio inferred from video alone (and the
  reverse), against predicting the training mean;
* cross-modal retrieval: each video's true audio among candidate pools of
  100, ranked by distance to the reconstruction, precision at 1 and 10
  against random;
* classification: a linear probe on the shared representation against the
  raw features.

Run ``python -m skmv.demo --help`` for the options.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from .datasets import make_paired_modalities
from .dbn import DBNTransformer
from .shared import SharedRBM

__all__ = ["main", "run"]


def _precision_at(reconstructed, candidates, n_values, pool, rng):
    """Precision at each N of finding row i's candidate from row i's query.

    Queries are split into pools of ``pool`` rows; each query ranks its pool's
    candidates by Euclidean distance to its reconstruction.
    """
    order = rng.permutation(len(candidates))
    hits = {n: [] for n in n_values}
    for start in range(0, len(order) - pool + 1, pool):
        rows = order[start : start + pool]
        R, C = reconstructed[rows], candidates[rows]
        d = (R * R).sum(1)[:, None] - 2 * R @ C.T + (C * C).sum(1)[None, :]
        # rank of the true partner (on the diagonal) among the pool
        rank = (d < np.diag(d)[:, None]).sum(axis=1)
        for n in n_values:
            hits[n].append(rank < n)
    return {n: float(np.concatenate(h).mean()) for n, h in hits.items()}


def run(n_samples=3000, *, device="auto", random_state=0, verbose=1, out=print):
    """Run the demo and return its figures as a dict (also printed via ``out``)."""
    begin = time.perf_counter()
    n_video, n_audio = 60, 40
    X, y = make_paired_modalities(
        n_samples, n_features=(n_video, n_audio), random_state=random_state
    )
    video, audio = slice(0, n_video), slice(n_video, n_video + n_audio)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=random_state, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train = scaler.transform(X_train).astype(np.float32)
    X_test = scaler.transform(X_test).astype(np.float32)
    out(
        f"skmv demo: {n_samples} generated video/audio pairs "
        f"({n_video} + {n_audio} features), {len(X_train)} to train, "
        f"{len(X_test)} held out"
    )

    def encoder():
        return DBNTransformer(
            hidden_layer_sizes=(128, 64), n_iter=20, random_state=random_state
        )

    model = SharedRBM(
        modalities=[("video", encoder(), video), ("audio", encoder(), audio)],
        n_components=64,
        n_iter=20,
        device=device,
        random_state=random_state,
        verbose=0,
    )
    t = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - t
    out(f"trained 2 DBNs (128-64) and a shared RBM (64) in {seconds:.1f} s")

    results = {}
    rng = np.random.default_rng(random_state)
    out("\ncross-modal reconstruction on held-out pairs (mean squared error)")
    for given, target, cols in (("video", "audio", audio), ("audio", "video", video)):
        R = np.asarray(model.reconstruct(X_test, given=[given], target=target))
        mse = float(((R - X_test[:, cols]) ** 2).mean())
        base = float(((X_train[:, cols].mean(0) - X_test[:, cols]) ** 2).mean())
        results[f"mse_{given}_to_{target}"] = mse
        results[f"mse_mean_{target}"] = base
        out(
            f"  {target} from {given}: {mse:.3f}   predicting the mean: {base:.3f}"
            f"   ratio {mse / base:.2f}"
        )

    pool = min(100, len(X_test))
    out(f"\ncross-modal retrieval: true partner among {pool} candidates")
    for given, target, cols in (("video", "audio", audio), ("audio", "video", video)):
        R = np.asarray(model.reconstruct(X_test, given=[given], target=target))
        p = _precision_at(R, X_test[:, cols], (1, 10), pool, rng)
        results[f"p@10_{given}_to_{target}"] = p[10]
        out(
            f"  {given} -> {target}: P@1 = {p[1]:.2f} (random {1 / pool:.2f})   "
            f"P@10 = {p[10]:.2f} (random {10 / pool:.2f})"
        )

    out("\nlinear probe of the class (accuracy on held-out pairs)")
    probes = {
        "shared representation": (model.transform(X_train), model.transform(X_test)),
        "shared, from video only": (
            model.transform(X_train, given=["video"]),
            model.transform(X_test, given=["video"]),
        ),
        "raw video + audio features": (X_train, X_test),
        "raw video features": (X_train[:, video], X_test[:, video]),
    }
    for name, (A, Bt) in probes.items():
        clf = LogisticRegression(max_iter=2000).fit(np.asarray(A), y_train)
        acc = float(clf.score(np.asarray(Bt), y_test))
        results[f"accuracy {name}"] = acc
        out(f"  {name:28s} {acc:.3f}")
    out(f"\ntotal time {time.perf_counter() - begin:.1f} s")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skmv.demo",
        description="Learn a shared representation of two generated modalities "
        "and print reconstruction, retrieval and classification figures.",
    )
    parser.add_argument("--n-samples", type=int, default=3000, help="pairs (3000)")
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="(auto)"
    )
    parser.add_argument("--random-state", type=int, default=0, help="seed (0)")
    args = parser.parse_args(argv)
    run(args.n_samples, device=args.device, random_state=args.random_state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
