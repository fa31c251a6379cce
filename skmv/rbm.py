"""Restricted Boltzmann machines: Gaussian-Bernoulli and Bernoulli-Bernoulli.

The building block of skmv's deep and shared representations (Xu, Wang and
Tang 2014, sections 3.1 and 3.2). One private base class holds the whole
training step; the two public classes differ only in their visible units.

Notation, as in Hinton's "A practical guide to training restricted Boltzmann
machines" (2010): visible units ``v`` (one row of X), hidden units ``h``,
weights ``W`` (``components_``, one row per hidden unit), visible biases ``b``
(``intercept_visible_``), hidden biases ``c`` (``intercept_hidden_``) and, for
Gaussian visible units, standard deviations ``sigma`` (``sigma_``).
"""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _backend as B
from . import _stream
from .base import (
    DeviceMixin,
    check_same_place,
    validate_array,
    validate_code,
    validate_stream,
)
from .exceptions import DivergenceError

__all__ = ["BernoulliRBM", "GaussianBernoulliRBM"]

# Momentum schedule of Hinton's guide (section 9): the initial value for the
# first epochs, while the weights change fast, then the final value.
_MOMENTUM_SWITCH_EPOCH = 5
# Rows of the training data on which the per-epoch reconstruction error is
# measured: enough for three significant digits, a few percent of an epoch.
_MONITOR_ROWS = 256
# A reconstruction error this many times the data's mean square (plus one)
# says the weights are running away; it stops training before they overflow.
_DIVERGENCE_FACTOR = 1e3
# Bounds on learned standard deviations of Gaussian visible units: a sigma
# shrinking towards zero makes the energy, and the updates, explode.
_SIGMA_BOUNDS = (1e-2, 1e2)
# Elements of the (rows, features, components) block that the exact
# pseudo-likelihood builds per chunk of rows (64 MiB in float32).
_PL_CHUNK_ELEMENTS = 1 << 24


class _BaseRBM(
    DeviceMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Shared maths and training loop of the RBM family; not public."""

    _visible = None  # "gaussian" or "bernoulli", fixed by each public class
    _device_state = ("_velocity", "_log_var", "_mean_activity")

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "k": [Interval(Integral, 1, None, closed="left")],
        "persistent": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left"), tuple],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_cost": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------
    # Conditionals and energies. Each takes the parameter tuple P from
    # _arrays(ctx), so that the same code serves every namespace.
    # ------------------------------------------------------------------

    def _scaled(self, v, P):
        """v / sigma for Gaussian units with learned sigma, else v itself."""
        W, c, b, sigma = P
        return v if sigma is None else v / sigma

    def _mean_hiddens(self, v, P, xp):
        """P(h = 1 | v) = sigmoid(c + (v / sigma) W^T)."""
        W, c, b, sigma = P
        p = B.matmul(self._scaled(v, P), W.T, xp)
        p += c
        return B.sigmoid_(p, xp)

    def _mean_visibles(self, h, P, xp):
        """E[v | h]: b + sigma * (h W) (Gaussian) or sigmoid(b + h W)."""
        W, c, b, sigma = P
        m = B.matmul(h, W, xp)
        if self._visible == "gaussian":
            if sigma is not None:
                m *= sigma
            m += b
            return m
        m += b
        return B.sigmoid_(m, xp)

    def _sample_hiddens(self, v, P, rng, xp):
        return B.bernoulli_(self._mean_hiddens(v, P, xp), rng, xp)

    def _sample_visibles(self, h, P, rng, xp):
        m = self._mean_visibles(h, P, xp)
        if self._visible == "gaussian":
            W, c, b, sigma = P
            noise = rng.normal(m.shape, m.dtype)
            return m + (noise if sigma is None else noise * sigma)
        return B.bernoulli_(m, rng, xp)

    def _free_energy(self, v, P, xp):
        W, c, b, sigma = P
        pre = B.matmul(self._scaled(v, P), W.T, xp)
        pre += c
        hidden_term = xp.sum(B.softplus(pre, xp), axis=1)
        if self._visible == "gaussian":
            d = v - b
            if sigma is not None:
                d = d / sigma
            return 0.5 * xp.sum(d * d, axis=1) - hidden_term
        return -B.matmul(v, b, xp) - hidden_term

    # ------------------------------------------------------------------
    # Public inference methods
    # ------------------------------------------------------------------

    def _prepare(self, X, method, *, scores=False):
        """Validate X for an inference method; return (X, context, parameters).

        ``scores=True`` computes in float64: free energies are sums of many
        terms whose differences the scores are, and float32 would make a
        row's score depend on the other rows of the batch (GEMM blocking).
        """
        check_is_fitted(self)
        ctx = B.compute_context(X, self.device)
        X = validate_array(self, X, ctx, reset=False, dtype=self.dtype)
        check_same_place(self, X, ctx, attribute="components_", method=method)
        if scores:
            X = ctx.xp.astype(X, ctx.xp.float64)
        return X, ctx, self._arrays(ctx, X.dtype)

    def transform(self, X):
        """Hidden unit activation probabilities, P(h = 1 | v = X).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Visible data; NumPy, CuPy or any array-API array.

        Returns
        -------
        h : array of shape (n_samples, n_components)
            In the namespace of ``X``.
        """
        if self.chunk_size is not None and _stream.streamable(X):
            check_is_fitted(self)
            X, ctx = validate_stream(
                self, X, self.device, reset=False, dtype=self.dtype
            )
            check_same_place(
                self,
                _stream.sample(X),
                ctx,
                attribute="components_",
                method="transform",
            )
            xp = ctx.xp
            P = self._arrays(ctx, B.resolve_dtype(self.dtype, X.dtype, xp))
            H = _stream.map_rows(
                X,
                lambda A, _: self._mean_hiddens(A, P, xp),
                self.n_components,
                chunk_size=self.chunk_size,
                ctx=ctx,
                dtype=self.dtype,
                estimator=self,
            )
            return ctx.give(H)
        X, ctx, P = self._prepare(X, "transform")
        return ctx.give(self._mean_hiddens(X, P, ctx.xp))

    def inverse_transform(self, X):
        """Expected visible units given hidden units, E[v | h = X].

        Noise-free: the mean of the Gaussian for Gaussian units, the
        probabilities for Bernoulli units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Hidden unit states or probabilities.

        Returns
        -------
        v : array of shape (n_samples, ``n_features_in_``)
        """
        check_is_fitted(self)
        ctx = B.compute_context(X, self.device)
        H = validate_code(
            self,
            X,
            ctx,
            n_columns=self.n_components,
            what=f"n_components={self.n_components}",
            dtype=self.dtype,
            method="inverse_transform",
        )
        check_same_place(
            self, H, ctx, attribute="components_", method="inverse_transform"
        )
        P = self._arrays(ctx, H.dtype)
        return ctx.give(self._mean_visibles(H, P, ctx.xp))

    def gibbs(self, v):
        """One step of block Gibbs sampling: sample h ~ P(h | v), then v ~ P(v | h).

        Gaussian visible units are sampled with their noise (unlike training,
        which uses noise-free reconstructions). Not deterministic: successive
        calls continue one random stream seeded from ``random_state``.

        Parameters
        ----------
        v : array-like of shape (n_samples, n_features)

        Returns
        -------
        v_new : array of shape (n_samples, n_features)
        """
        X, ctx, P = self._prepare(v, "gibbs")
        xp = ctx.xp
        rng = getattr(self, "_gibbs_rng", None)
        if rng is None or rng.xp is not xp:
            rng = B.make_rng(self.random_state, xp, B.device_of(X))
            self._gibbs_rng = rng
        h = self._sample_hiddens(X, P, rng, xp)
        return ctx.give(self._sample_visibles(h, P, rng, xp))

    def free_energy(self, X):
        """Free energy F(v) = -log sum_h exp(-E(v, h)) of each row.

        Returns
        -------
        F : array of shape (n_samples,), float64
            Lower is more probable under the model.
        """
        X, ctx, P = self._prepare(X, "free_energy", scores=True)
        return ctx.give(self._free_energy(X, P, ctx.xp))

    # ------------------------------------------------------------------
    # Parameters across namespaces
    # ------------------------------------------------------------------

    def _arrays(self, ctx, dtype):
        """(W, c, b, sigma) where ``ctx`` computes; sigma None when fixed at 1."""
        sigma = getattr(self, "sigma_", None)
        if sigma is not None and not self._learns_sigma():
            sigma = None
        out = []
        for a in (
            self.components_,
            self.intercept_hidden_,
            self.intercept_visible_,
            sigma,
        ):
            if a is not None:
                a = ctx.put(a)
                if a.dtype != dtype:
                    a = ctx.xp.astype(a, dtype)
            out.append(a)
        return tuple(out)

    def _learns_sigma(self):
        return False

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------

    def _validate_schedule(self):
        m = self.momentum
        if isinstance(m, tuple):
            if len(m) != 2 or not all(isinstance(x, Real) and 0 <= x < 1 for x in m):
                raise ValueError(
                    "momentum must be a float in [0, 1) or a pair (initial, final) "
                    f"of such floats, got {m!r}."
                )
            return float(m[0]), float(m[1])
        return float(m), float(m)

    def _momentum_at(self, epoch):
        initial, final = self._validate_schedule()
        return initial if epoch < _MOMENTUM_SWITCH_EPOCH else final

    def _initialize(self, n_samples, mean, xp, rng):
        """Fresh parameters for data of ``n_samples`` rows whose columns have
        the means ``mean`` (whose dtype and device the parameters take)."""
        n_features = mean.shape[0]
        dtype, device = mean.dtype, B.device_of(mean)
        self.components_ = rng.normal(
            (self.n_components, n_features), dtype, scale=0.01
        )
        self.intercept_hidden_ = xp.zeros(self.n_components, dtype=dtype, device=device)
        if self._visible == "gaussian":
            # Hinton's guide: start the visible biases at the data mean.
            self.intercept_visible_ = mean
            self.sigma_ = xp.ones(n_features, dtype=dtype, device=device)
        else:
            # Hinton's guide, section 8: log(p / (1 - p)) of the on-rate.
            p = xp.clip(mean, 1e-3, 1.0 - 1e-3)
            self.intercept_visible_ = xp.log(p / (1.0 - p))
        self._velocity = [
            xp.zeros_like(self.components_),
            xp.zeros_like(self.intercept_hidden_),
            xp.zeros_like(self.intercept_visible_),
        ]
        self._log_var = xp.zeros(n_features, dtype=dtype, device=device)
        self._mean_activity = xp.full(
            self.n_components, self.sparsity_target, dtype=dtype, device=device
        )
        self.h_samples_ = (
            xp.zeros(
                (min(self.batch_size, n_samples), self.n_components),
                dtype=dtype,
                device=device,
            )
            if self.persistent
            else None
        )
        self._epoch = 0
        self.reconstruction_error_curve_ = []

    def _training_data(self, X, *, reset):
        """Validated X, where it computes, and its mini-batches.

        Returns ``(X, ctx, batches, n_samples)``; ``batches(rng, shuffle)``
        yields one epoch's mini-batches of ``batch_size`` rows: from X in
        memory (``chunk_size=None``), or read ``chunk_size`` rows at a time,
        the chunks in a shuffled order and the rows shuffled within each.
        """
        if self.chunk_size is None:
            ctx = B.compute_context(X, self.device)
            X = validate_array(self, X, ctx, reset=reset, dtype=self.dtype)
            xp = ctx.xp

            def batches(rng, shuffle):
                for idx in self._batches(X.shape[0], rng, shuffle):
                    yield B.take(X, idx, xp)

            return X, ctx, batches, X.shape[0]

        X, ctx = validate_stream(self, X, self.device, reset=reset, dtype=self.dtype)
        bounds = _stream.batch_bounds(X.shape[0], self.batch_size)

        def batches(rng, shuffle):
            return _stream.iter_batches(
                X,
                bounds,
                chunk_size=self.chunk_size,
                ctx=ctx,
                dtype=self.dtype,
                rng=rng,
                shuffle=shuffle,
            )

        return X, ctx, batches, X.shape[0]

    def _batches(self, n_samples, rng, shuffle):
        order = rng.permutation(n_samples) if shuffle else None
        for start in range(0, n_samples, self.batch_size):
            stop = min(start + self.batch_size, n_samples)
            yield slice(start, stop) if order is None else order[start:stop]

    def _fit_batch(self, v_pos, rng, xp, momentum, work):
        """One CD-k (or PCD-k) update from the mini-batch ``v_pos``.

        ``work`` is a scratch buffer the shape of ``components_`` (or None),
        reused across the mini-batches of one call.
        """
        P = (
            self.components_,
            self.intercept_hidden_,
            self.intercept_visible_,
            self.sigma_ if self._learns_sigma() else None,
        )
        W, c, b, sigma = P
        lr = self.learning_rate
        n_pos = v_pos.shape[0]

        h_pos = self._mean_hiddens(v_pos, P, xp)
        h = self.h_samples_ if self.persistent else B.bernoulli_(h_pos, rng, xp)
        # Persistent chains of binary units are true Gibbs chains (fantasy
        # particles), so they sample the visibles; otherwise the reconstruction
        # is noise-free, the mean of the visibles (Hinton's guide, 3.2).
        sample_v = self.persistent and self._visible == "bernoulli"
        for step in range(self.k):
            v_neg = (
                self._sample_visibles(h, P, rng, xp)
                if sample_v
                else self._mean_visibles(h, P, xp)
            )
            h_neg = self._mean_hiddens(v_neg, P, xp)
            if step < self.k - 1 or self.persistent:
                h = B.bernoulli_(h_neg, rng, xp)
        if self.persistent:
            self.h_samples_ = h
        n_neg = v_neg.shape[0]

        x_pos, x_neg = self._scaled(v_pos, P), self._scaled(v_neg, P)
        mean_h_pos = xp.mean(h_pos, axis=0)
        grad_c = mean_h_pos - xp.mean(h_neg, axis=0)
        # One GEMM gives lr * (<x h>_data - <x h>_model), and the sparsity
        # term with it: [lr h_pos / n; -lr h_neg / n']^T [x_pos; x_neg].
        H_rows = [h_pos * (lr / n_pos), h_neg * (-lr / n_neg)]
        X_rows = [x_pos, x_neg]
        if self.sparsity_cost > 0:
            # Hinton's guide, section 11: a running estimate q of each hidden
            # unit's activity is pushed towards the target p through the bias
            # and the incoming weights; the penalty's derivative is q - p.
            self._mean_activity = 0.9 * self._mean_activity + 0.1 * mean_h_pos
            penalty = self.sparsity_cost * (self._mean_activity - self.sparsity_target)
            H_rows.append(xp.reshape(penalty * (-lr), (1, -1)))
            X_rows.append(xp.reshape(xp.mean(x_pos, axis=0), (1, -1)))
            grad_c = grad_c - penalty
        Hs, Xs = xp.concat(H_rows, axis=0), xp.concat(X_rows, axis=0)
        step_W = B.matmul_(Hs.T, Xs, work, xp)

        grad_b = xp.mean(v_pos, axis=0) - xp.mean(v_neg, axis=0)
        if sigma is not None:
            grad_b = grad_b / (sigma * sigma)
            self._update_sigma(v_pos, v_neg, step_W, xp)

        vW, vc, vb = self._velocity
        if momentum > 0:
            vW = B.momentum_(vW, momentum, step_W, xp)
            step_W = vW
        if self.weight_decay > 0:
            # Decoupled weight decay: W shrinks by a fixed fraction per update.
            W = B.scale_(W, 1.0 - lr * self.weight_decay, xp)
        self.components_ = B.add_(W, step_W, xp)
        vc = momentum * vc + lr * grad_c
        vb = momentum * vb + lr * grad_b
        self.intercept_hidden_ = c + vc
        self.intercept_visible_ = b + vb
        self._velocity = [vW, vc, vb]

    def _update_sigma(self, v_pos, v_neg, step_W, xp):
        """Gradient step on z = log(sigma^2) (Gaussian units, learn_sigma)."""
        W, b, sigma = self.components_, self.intercept_visible_, self.sigma_
        lr = self.learning_rate
        # d(-F)/dz_i = (v_i - b_i)^2 / (2 sigma_i^2) - (v_i / (2 sigma_i)) (h W)_i,
        # averaged over the data minus over the model. The second term's
        # average is -1/2 sum_j W_ji G_ji, G the weight gradient (step_W / lr),
        # so it costs no extra GEMM.
        d_pos, d_neg = v_pos - b, v_neg - b
        quad = (xp.mean(d_pos * d_pos, axis=0) - xp.mean(d_neg * d_neg, axis=0)) / (
            2.0 * sigma * sigma
        )
        grad_z = quad - (0.5 / lr) * xp.sum(W * step_W, axis=0)
        lo, hi = (2.0 * float(np.log(s)) for s in _SIGMA_BOUNDS)
        self._log_var = xp.clip(self._log_var + lr * grad_z, lo, hi)
        self.sigma_ = xp.exp(0.5 * self._log_var)

    def _reconstruction_error(self, V, xp):
        """Mean squared error of the mean-field reconstruction E[v | P(h | v)]."""
        P = (
            self.components_,
            self.intercept_hidden_,
            self.intercept_visible_,
            self.sigma_ if self._learns_sigma() else None,
        )
        R = self._mean_visibles(self._mean_hiddens(V, P, xp), P, xp)
        D = V - R
        return B.scalar(xp.mean(D * D))

    @staticmethod
    def _error_scale(V, xp):
        """Scale of a sane reconstruction error of V: its mean square plus 1.

        No GEMM needed, and never zero (one row, constant columns).
        """
        return B.scalar(xp.mean(V * V)) + 1.0

    def _check_diverged(self, error, epoch, xp):
        where = f"epoch {epoch}" if isinstance(epoch, int) else epoch
        finite = all(
            B.all_finite(a, xp)
            for a in (self.components_, self.intercept_hidden_, self.intercept_visible_)
        )
        exploded = error is not None and (
            not np.isfinite(error) or error > _DIVERGENCE_FACTOR * self._scale
        )
        if not finite or exploded:
            what = (
                "non-finite parameters"
                if not finite
                else f"reconstruction error {error:.3g} "
                f"(data mean square + 1: {self._scale:.3g})"
            )
            raise DivergenceError(
                f"{type(self).__name__} diverged at {where}: {what}. Lower "
                f"learning_rate (now {self.learning_rate}); standardise Gaussian "
                "inputs to zero mean and unit variance."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to X by contrastive divergence (CD-k or PCD-k).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; NumPy, CuPy or any array-API array.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted model.
        """
        self._validate_schedule()
        X, ctx, batches, n_samples = self._training_data(X, reset=True)
        xp = ctx.xp
        # Evenly spaced rows: no random draw, so that fit(n_iter=1) and one
        # partial_fit from the same seed make the same updates.
        rows = np.unique(np.linspace(0, n_samples - 1, _MONITOR_ROWS).astype(np.intp))
        if self.chunk_size is None:
            mean, monitor = xp.mean(X, axis=0), B.take(X, rows, xp)
        else:
            # One pass for the column means, the finite check and the rows
            # that monitor the epochs.
            mean, monitor, _ = _stream.scan(
                X,
                chunk_size=self.chunk_size,
                ctx=ctx,
                dtype=self.dtype,
                estimator=self,
                gather=rows,
            )
        rng = B.make_rng(self.random_state, xp, B.device_of(monitor))
        self._initialize(n_samples, mean, xp, rng)
        self._scale = self._error_scale(monitor, xp)
        work = xp.empty_like(self.components_)
        for epoch in range(1, self.n_iter + 1):
            begin = time.perf_counter()
            momentum = self._momentum_at(self._epoch)
            for v in batches(rng, self.shuffle):
                self._fit_batch(v, rng, xp, momentum, work)
            self._epoch += 1
            error = self._reconstruction_error(monitor, xp)
            self._check_diverged(error, epoch, xp)
            self.reconstruction_error_curve_.append(error)
            if self.verbose:
                print(
                    f"[{type(self).__name__}] Epoch {epoch}/{self.n_iter}, "
                    f"reconstruction error = {error:.4f}, "
                    f"time = {time.perf_counter() - begin:.2f}s"
                )
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One pass of CD-k updates over X, in mini-batches of ``batch_size``.

        The first call initialises the model from X; later calls go on from
        where the model is (momentum, persistent chains included). No
        shuffling: the caller chooses what each call sees.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        self._validate_schedule()
        first = not hasattr(self, "components_")
        X, ctx, batches, n_samples = self._training_data(X, reset=first)
        xp = ctx.xp
        where = _stream.sample(X) if self.chunk_size is not None else X
        rng = getattr(self, "_partial_rng", None)
        if rng is None or rng.xp is not xp:
            rng = B.make_rng(self.random_state, xp, B.device_of(where))
            self._partial_rng = rng
        if first:
            if self.chunk_size is None:
                mean, square = xp.mean(X, axis=0), B.scalar(xp.mean(X * X))
            else:
                mean, _, square = _stream.scan(
                    X,
                    chunk_size=self.chunk_size,
                    ctx=ctx,
                    dtype=self.dtype,
                    estimator=self,
                    mean_square=True,
                )
            self._initialize(n_samples, mean, xp, rng)
            self._scale = square + 1.0
        else:
            check_same_place(
                self, where, ctx, attribute="components_", method="partial_fit"
            )
            self._move_state(ctx, B.resolve_dtype(self.dtype, X.dtype, xp))
        momentum = self._momentum_at(self._epoch)
        work = xp.empty_like(self.components_)
        for v in batches(rng, False):
            self._fit_batch(v, rng, xp, momentum, work)
        self._epoch += 1
        self._check_diverged(None, f"partial_fit call {self._epoch}", xp)
        return self

    def _move_state(self, ctx, dtype):
        """Bring every trainable array to where ``ctx`` computes, in ``dtype``."""

        def conv(a):
            if a is None:
                return None
            a = ctx.put(a)
            return a if a.dtype == dtype else ctx.xp.astype(a, dtype)

        for name in (
            "components_",
            "intercept_hidden_",
            "intercept_visible_",
            "sigma_",
            "h_samples_",
            "_log_var",
            "_mean_activity",
        ):
            if hasattr(self, name):
                setattr(self, name, conv(getattr(self, name)))
        self._velocity = [conv(a) for a in self._velocity]

    def __getstate__(self):
        state = super().__getstate__()
        # Random generators are not arrays: a loaded model draws a fresh
        # stream from random_state.
        for key in ("_gibbs_rng", "_partial_rng"):
            state.pop(key, None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.dtype is None else [self.dtype]
        )
        return tags


class GaussianBernoulliRBM(_BaseRBM):
    """Restricted Boltzmann machine with Gaussian visible and binary hidden units.

    The first layer of skmv's deep networks (Xu, Wang and Tang 2014, section
    3.1): it models real-valued features such as standardised video and audio
    descriptors. Energy::

        E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j c_j h_j
                  - sum_ij (v_i / sigma_i) W_ji h_j

    so that ``P(h_j = 1 | v) = sigmoid(c_j + sum_i W_ji v_i / sigma_i)`` and
    ``v | h ~ N(b + sigma * (h W), sigma^2)``. Trained by contrastive
    divergence with noise-free (mean) reconstructions of the visible units,
    following Hinton's practical guide: standardise the data first (zero mean,
    unit variance per feature) and keep sigma fixed at 1 unless
    ``learn_sigma=True``.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.01
        Step size for the mean gradient of a mini-batch. Gaussian visible
        units need a rate 10 to 100 times smaller than binary ones; lower it
        if training raises :class:`~skmv.exceptions.DivergenceError`.
    batch_size : int, default=100
        Rows per mini-batch.
    n_iter : int, default=10
        Epochs (passes over the training data) of ``fit``.
    k : int, default=1
        Gibbs steps per update (CD-k).
    persistent : bool, default=False
        Keep the negative-phase chains between updates (PCD-k, Tieleman 2008)
        instead of restarting them at the data.
    momentum : float or (float, float), default=(0.5, 0.9)
        Momentum of the updates; a pair gives the value for the first 5 epochs
        and the value after.
    weight_decay : float, default=1e-4
        L2 penalty on the weights (not the biases), applied decoupled from
        the momentum: each update multiplies the weights by
        ``1 - learning_rate * weight_decay``.
    sparsity_target : float, default=0.1
        Target mean activity of each hidden unit, used when
        ``sparsity_cost > 0``.
    sparsity_cost : float, default=0.0
        Weight of the sparsity penalty (Hinton's guide, section 11).
    learn_sigma : bool, default=False
        Learn each visible unit's standard deviation (kept within
        [0.01, 100]) instead of fixing it at 1.
    shuffle : bool, default=True
        Shuffle the rows before each epoch of ``fit``.
    chunk_size : int or None, default=None
        Rows read at once when training by streaming: with an int, ``fit``
        and ``partial_fit`` read X (a NumPy memmap, a Zarr array,
        :attr:`skmv.store.FeatureStore.X`, or any 2-D array read by row
        slices) ``chunk_size`` rows at a time, so that memory holds a chunk
        and its mini-batches, never the whole of X or a copy of it; ``fit``
        visits the chunks in a shuffled order and shuffles the rows within
        each (with ``shuffle``), and ``transform`` gathers its output chunk
        by chunk. None reads X whole, as an array in memory. See Notes.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, sampling and shuffling. Pass an int for
        reproducible results.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute: ``"auto"`` where the input lives (NumPy on the CPU,
        CuPy on the GPU); ``"cuda"`` on the GPU whatever the input;
        ``"cpu"`` with NumPy. Outputs come back in the input's array type.
    dtype : {"float32", "float64"} or None, default="float32"
        Floating type of the computation; None keeps the input's.
    verbose : int, default=0
        Print the reconstruction error and time of each epoch.

    Attributes
    ----------
    components_ : array of shape (n_components, ``n_features_in_``)
        Weights ``W``.
    intercept_hidden_ : array of shape (n_components,)
        Hidden biases ``c``.
    intercept_visible_ : array of shape (``n_features_in_``,)
        Visible biases ``b``.
    sigma_ : array of shape (``n_features_in_``,)
        Standard deviations of the visible units (ones unless learned).
    h_samples_ : array of shape (batch_size, n_components) or None
        States of the persistent chains (``persistent=True``).
    reconstruction_error_curve_ : list of float
        Mean squared error of the mean-field reconstruction of (up to 256
        rows of) the training data after each epoch of ``fit``;
        ``partial_fit`` adds nothing to it.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    BernoulliRBM : The same model with binary visible units.
    skmv.dbn.DBNTransformer : A stack of RBMs.

    Notes
    -----
    ``score_samples`` returns ``-free_energy(X)``, the log of the model's
    unnormalised density: it ranks samples of one fitted model (higher is more
    probable) but is not comparable between models, because the partition
    function of a Gaussian-Bernoulli RBM is intractable.

    Streaming (``chunk_size``) trains the same model as ``fit`` on the array
    in memory when the rows come in the same order: with ``shuffle=False``
    the mini-batches are the same rows whatever ``chunk_size`` is (rows left
    at the end of a chunk start the next batch), and the weights agree to
    float32 rounding (streaming sums the column means, where the visible
    biases start, in float64; ``fit`` in memory in float32). With
    ``shuffle=True`` the order differs (chunks shuffled, then rows within a
    chunk) and so does the model, as another seed would make it. Memory is
    about three chunks of X besides the model; time, one more pass over X
    (the column means and the finite check) than in memory.

    References
    ----------
    G. E. Hinton, "A practical guide to training restricted Boltzmann
    machines", UTML TR 2010-003, 2010.

    B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
    multi-timescale shared representations", ACM Multimedia 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.rbm import GaussianBernoulliRBM
    >>> X = np.random.default_rng(0).standard_normal((200, 8)).astype("float32")
    >>> rbm = GaussianBernoulliRBM(n_components=4, n_iter=3, random_state=0).fit(X)
    >>> rbm.transform(X).shape
    (200, 4)
    """

    _visible = "gaussian"
    _parameter_constraints: dict = {
        **_BaseRBM._parameter_constraints,
        "learn_sigma": ["boolean"],
    }

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.01,
        batch_size=100,
        n_iter=10,
        k=1,
        persistent=False,
        momentum=(0.5, 0.9),
        weight_decay=1e-4,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        learn_sigma=False,
        shuffle=True,
        chunk_size=None,
        random_state=None,
        device="auto",
        dtype="float32",
        verbose=0,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.learn_sigma = learn_sigma
        self.shuffle = shuffle
        self.chunk_size = chunk_size
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    def _learns_sigma(self):
        return self.learn_sigma

    def score_samples(self, X):
        """Log of the unnormalised density, ``-free_energy(X)``.

        Comparable between samples of one fitted model, not between models
        (the log partition function is unknown).

        Returns
        -------
        scores : array of shape (n_samples,), float64
        """
        X, ctx, P = self._prepare(X, "score_samples", scores=True)
        return ctx.give(-self._free_energy(X, P, ctx.xp))


class BernoulliRBM(_BaseRBM):
    """Restricted Boltzmann machine with binary visible and hidden units.

    The upper layers of skmv's deep networks and the shared layer over the
    modalities (Xu, Wang and Tang 2014, section 3.2). Visible values in
    [0, 1] are read as probabilities. Energy::

        E(v, h) = - sum_i b_i v_i - sum_j c_j h_j - sum_ij v_i W_ji h_j

    so that ``P(h_j = 1 | v) = sigmoid(c_j + sum_i W_ji v_i)`` and
    ``P(v_i = 1 | h) = sigmoid(b_i + sum_j W_ji h_j)``.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.1
        Step size for the mean gradient of a mini-batch.
    batch_size : int, default=100
        Rows per mini-batch.
    n_iter : int, default=10
        Epochs (passes over the training data) of ``fit``.
    k : int, default=1
        Gibbs steps per update (CD-k).
    persistent : bool, default=False
        Keep the negative-phase chains between updates (PCD-k).
    momentum : float or (float, float), default=(0.5, 0.9)
        Momentum of the updates; a pair gives the value for the first 5 epochs
        and the value after.
    weight_decay : float, default=1e-4
        L2 penalty on the weights (not the biases), applied decoupled from
        the momentum: each update multiplies the weights by
        ``1 - learning_rate * weight_decay``.
    sparsity_target : float, default=0.1
        Target mean activity of each hidden unit, used when
        ``sparsity_cost > 0``.
    sparsity_cost : float, default=0.0
        Weight of the sparsity penalty (Hinton's guide, section 11).
    shuffle : bool, default=True
        Shuffle the rows before each epoch of ``fit``.
    chunk_size : int or None, default=None
        Rows read at once when training by streaming: with an int, ``fit``
        and ``partial_fit`` read X (a NumPy memmap, a Zarr array,
        :attr:`skmv.store.FeatureStore.X`, or any 2-D array read by row
        slices) ``chunk_size`` rows at a time, so that memory holds a chunk
        and its mini-batches, never the whole of X or a copy of it; ``fit``
        visits the chunks in a shuffled order and shuffles the rows within
        each (with ``shuffle``), and ``transform`` gathers its output chunk
        by chunk. None reads X whole, as an array in memory. See Notes.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, sampling and shuffling.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute; outputs come back in the input's array type.
    dtype : {"float32", "float64"} or None, default="float32"
        Floating type of the computation; None keeps the input's.
    verbose : int, default=0
        Print the reconstruction error and time of each epoch.

    Attributes
    ----------
    components_ : array of shape (n_components, ``n_features_in_``)
        Weights ``W``.
    intercept_hidden_ : array of shape (n_components,)
        Hidden biases ``c``.
    intercept_visible_ : array of shape (``n_features_in_``,)
        Visible biases ``b``.
    h_samples_ : array of shape (batch_size, n_components) or None
        States of the persistent chains (``persistent=True``).
    reconstruction_error_curve_ : list of float
        Mean squared error of the mean-field reconstruction of (up to 256
        rows of) the training data after each epoch of ``fit``;
        ``partial_fit`` adds nothing to it.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    GaussianBernoulliRBM : The same model with real-valued visible units.
    sklearn.neural_network.BernoulliRBM : scikit-learn's PCD-1 implementation.

    Notes
    -----
    ``score_samples`` is the exact pseudo-log-likelihood, the sum over
    visible units of ``log P(v_i | v_-i)`` (scikit-learn's ``BernoulliRBM``
    estimates the same sum from one random unit per row). It is deterministic
    and costs O(n_samples * n_features * n_components).

    Streaming (``chunk_size``) trains the same model as ``fit`` on the array
    in memory when the rows come in the same order: with ``shuffle=False``
    the mini-batches are the same rows whatever ``chunk_size`` is (rows left
    at the end of a chunk start the next batch), and the weights agree to
    float32 rounding (streaming sums the column means, where the visible
    biases start, in float64; ``fit`` in memory in float32). With
    ``shuffle=True`` the order differs (chunks shuffled, then rows within a
    chunk) and so does the model, as another seed would make it. Memory is
    about three chunks of X besides the model; time, one more pass over X
    (the column means and the finite check) than in memory.

    References
    ----------
    G. E. Hinton, "A practical guide to training restricted Boltzmann
    machines", UTML TR 2010-003, 2010.

    T. Tieleman, "Training restricted Boltzmann machines using approximations
    to the likelihood gradient", ICML 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.rbm import BernoulliRBM
    >>> X = (np.random.default_rng(0).random((200, 8)) > 0.5).astype("float32")
    >>> rbm = BernoulliRBM(n_components=4, n_iter=3, random_state=0).fit(X)
    >>> rbm.transform(X).shape
    (200, 4)
    """

    _visible = "bernoulli"

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.1,
        batch_size=100,
        n_iter=10,
        k=1,
        persistent=False,
        momentum=(0.5, 0.9),
        weight_decay=1e-4,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        shuffle=True,
        chunk_size=None,
        random_state=None,
        device="auto",
        dtype="float32",
        verbose=0,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.shuffle = shuffle
        self.chunk_size = chunk_size
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    def score_samples(self, X):
        """Pseudo-log-likelihood of each row, ``sum_i log P(v_i | v_-i)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        pl : array of shape (n_samples,), float64
            Always <= 0; closer to 0 is better.
        """
        X, ctx, P = self._prepare(X, "score_samples", scores=True)
        xp = ctx.xp
        W, c, b, _ = P
        n, d = X.shape
        F = self._free_energy(X, P, xp)
        pre = B.matmul(X, W.T, xp)
        pre += c
        Wt = xp.expand_dims(W.T, axis=0)  # (1, d, h)
        rows = max(1, _PL_CHUNK_ELEMENTS // max(1, d * W.shape[0]))
        out = []
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            # Flipping v_i adds delta_i = 1 - 2 v_i to v_i: the hidden inputs
            # move by delta_i W[:, i] and the visible term by delta_i b_i.
            delta = 1.0 - 2.0 * X[start:stop, :]  # (r, d)
            pre_flip = xp.expand_dims(pre[start:stop, :], axis=1) + (
                xp.expand_dims(delta, axis=2) * Wt
            )
            visible = xp.expand_dims(B.matmul(X[start:stop, :], b, xp), axis=1)
            F_flip = -visible - delta * b - xp.sum(B.softplus(pre_flip, xp), axis=2)
            # log P(v_i | v_-i) = log sigmoid(F(v flipped) - F(v))
            gap = F_flip - xp.expand_dims(F[start:stop], axis=1)
            out.append(xp.sum(-B.softplus(-gap, xp), axis=1))
        return ctx.give(xp.concat(out, axis=0))
