"""Deep belief networks: greedy stacks of RBMs, optionally fine-tuned.

The per-modality deep representation of Xu, Wang and Tang (2014, section
3.1): a Gaussian-Bernoulli RBM on the standardised features, Bernoulli RBMs
above it, each trained on the hidden probabilities of the one below (Hinton,
Osindero and Teh 2006). The stack can then be unrolled into an autoencoder and
fine-tuned by back-propagation (Hinton and Salakhutdinov 2006).

Both the pre-trained and the fine-tuned model are read as one unrolled network
of ``2 L`` affine layers for ``L`` RBMs: encoders ``0 .. L-1`` going up,
decoders ``L .. 2L-1`` coming down, in the layout of scikit-learn's MLP
(``coefs_[i]`` has shape ``(n_in, n_out)``). One private loop, ``_walk``, runs
any range of it: ``transform`` the first half, ``inverse_transform`` the
second, fine-tuning the whole.
"""

from __future__ import annotations

import functools
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted

from . import _backend as B
from . import _stream
from ._finetune import CE_CLIP, Adam
from .base import (
    DeviceMixin,
    check_same_place,
    validate_array,
    validate_code,
    validate_stream,
)
from .exceptions import DivergenceError
from .rbm import BernoulliRBM, GaussianBernoulliRBM, _BaseRBM

__all__ = ["DBNTransformer"]

# RBM parameters that DBNTransformer passes to every layer, under the same
# names and with the same constraints.
_SHARED = (
    "batch_size",
    "n_iter",
    "k",
    "persistent",
    "momentum",
    "weight_decay",
    "sparsity_target",
    "sparsity_cost",
    "shuffle",
    "chunk_size",
)
# RBM parameters the network sets for every layer itself; layer_params may not.
_RESERVED = {
    "n_components": "hidden_layer_sizes",
    "random_state": "random_state",
    "device": "device",
    "dtype": "dtype",
    "verbose": "verbose",
}


def _unroll(rbms, ctx, dtype):
    """(coefs, intercepts) of the network unrolled from fitted ``rbms``.

    Encoder i is (W_i^T, c_i), decoder 2L - 1 - i is (W_i, b_i): the RBM's
    P(h | v) going up and E[v | h] coming down. A learned sigma of Gaussian
    units is folded into the weights, (v / sigma) W^T = v (W / sigma)^T and
    sigma * (h W) = h (W * sigma), so every layer is affine then logistic
    (or linear at a Gaussian output). Arrays are views where they can be.
    """
    up_W, up_b, down_W, down_b = [], [], [], []
    for rbm in rbms:
        W, c, b, sigma = rbm._arrays(ctx, dtype)
        up_W.append(W.T if sigma is None else (W / sigma).T)
        up_b.append(c)
        down_W.append(W if sigma is None else W * sigma)
        down_b.append(b)
    return up_W + down_W[::-1], up_b + down_b[::-1]


def _hidden_rows(rbm, ctx, dtype, A):
    """P(h = 1 | v = A) of a fitted layer, A moved where ``ctx`` computes:
    how a layer's output streams to the layer above, one chunk at a time."""
    A = _stream.to_compute(A, ctx, dtype)
    return rbm._mean_hiddens(A, rbm._arrays(ctx, A.dtype), ctx.xp)


class DBNTransformer(
    DeviceMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Deep belief network: a greedy stack of RBMs, optionally fine-tuned.

    Layer 0 is a :class:`~skmv.rbm.GaussianBernoulliRBM` (``visible=
    "gaussian"``, for standardised real-valued features) or a
    :class:`~skmv.rbm.BernoulliRBM` (``visible="bernoulli"``, for data in
    [0, 1]); the layers above are ``BernoulliRBM``. Each layer is trained by
    contrastive divergence on the hidden probabilities (``transform``) of the
    layer below: greedy layer-wise pre-training. With
    ``fine_tune="autoencoder"`` the stack is then unrolled into an
    encoder-decoder and trained by back-propagation of the reconstruction
    error.

    ``transform`` gives the top layer's probabilities, P(h_L = 1 | ...)
    propagated deterministically (mean field) through the layers;
    ``inverse_transform`` goes back down to the input space.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(256, 128)
        Number of hidden units of each RBM, bottom to top; an int is one
        layer. The ith entry is the width of the ith RBM's hidden layer.
    visible : {"gaussian", "bernoulli"}, default="gaussian"
        Visible units of the first layer: ``"gaussian"`` for real-valued
        features standardised to zero mean and unit variance (the paper's
        setting), ``"bernoulli"`` for binary data or values in [0, 1].
    learning_rate : float or None, default=None
        Contrastive-divergence step size of every layer. None gives each layer
        its class's default: 0.01 for the Gaussian first layer, 0.1 for
        Bernoulli layers (Gaussian visible units need a rate 10 to 100 times
        smaller). Use ``layer_params`` for a different rate per layer.
    batch_size : int, default=100
        Rows per mini-batch, in pre-training and in fine-tuning.
    n_iter : int, default=10
        Epochs of pre-training of each layer.
    k : int, default=1
        Gibbs steps per update (CD-k) of every layer.
    persistent : bool, default=False
        Train every layer with persistent chains (PCD-k).
    momentum : float or (float, float), default=(0.5, 0.9)
        Momentum of the layers' updates; a pair gives the value for the first
        5 epochs and the value after.
    weight_decay : float, default=1e-4
        Decoupled L2 penalty on every layer's weights during pre-training.
    sparsity_target : float, default=0.1
        Target mean activity of hidden units, when ``sparsity_cost > 0``.
    sparsity_cost : float, default=0.0
        Weight of the sparsity penalty of every layer.
    shuffle : bool, default=True
        Shuffle the rows before each epoch, in pre-training and fine-tuning.
    chunk_size : int or None, default=None
        Rows read at once when training by streaming: with an int, ``fit``
        reads X (a NumPy memmap, a Zarr array,
        :attr:`skmv.store.FeatureStore.X`, or any 2-D array read by row
        slices) ``chunk_size`` rows at a time, in pre-training and
        fine-tuning alike; each layer's training chunks are computed from
        the chunks of X through the fitted layers below, so that no
        layer's whole representation is ever held. ``transform`` gathers its
        output chunk by chunk. None holds X and each layer's representation
        in memory. See Notes.
    layer_params : list of dict or None, default=None
        Per-layer overrides, one dict per layer (``len(hidden_layer_sizes)``
        of them), each merged over the shared parameters above: for example
        ``[{"learning_rate": 0.005, "learn_sigma": True}, {}]``. Keys are the
        parameters of the layer's RBM class except ``n_components``,
        ``random_state``, ``device``, ``dtype`` and ``verbose``, which the
        network sets for every layer. Errors name the layer.
    fine_tune : {"autoencoder"} or None, default=None
        ``"autoencoder"`` fine-tunes the unrolled network after pre-training
        (see Notes); None keeps the pre-trained stack.
    fine_tune_n_iter : int, default=10
        Epochs of fine-tuning.
    fine_tune_learning_rate : float, default=1e-3
        Step size of the Adam optimiser used in fine-tuning.
    random_state : int, RandomState instance or None, default=None
        Seeds every layer (each gets its own seed, drawn from one
        ``RandomState``) and the order of the fine-tuning mini-batches.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute, for every layer and for fine-tuning: ``"auto"``
        where the input lives, ``"cuda"`` on the GPU whatever the input,
        ``"cpu"`` with NumPy. Outputs come back in the input's array type.
    dtype : {"float32", "float64"} or None, default="float32"
        Floating type of the computation; None keeps the input's.
    verbose : int, default=0
        Print progress: each layer's epochs (passed to the RBMs) and the
        fine-tuning loss of each epoch.

    Attributes
    ----------
    rbms_ : list of RBM estimators
        The pre-trained layers, bottom to top; ``rbms_[i]`` maps arrays of
        shape ``(n_samples, n_in)`` to ``(n_samples, hidden_layer_sizes[i])``.
        Fine-tuning leaves them as pre-trained.
    coefs_ : list of arrays or None
        The fine-tuned network's weights (None without fine-tuning), ``2 L``
        of them for ``L`` layers: ``coefs_[i]`` of shape
        ``(layer_units[i], layer_units[i + 1])`` with ``layer_units =
        [n_features_in_, *hidden_layer_sizes, *reversed(hidden_layer_sizes
        [:-1]), n_features_in_]``; the first ``L`` encode, the last ``L``
        decode.
    intercepts_ : list of arrays or None
        The fine-tuned network's biases (None without fine-tuning);
        ``intercepts_[i]`` has shape ``(layer_units[i + 1],)``.
    loss_curve_ : list of float or None
        Mean fine-tuning loss per entry of X over each epoch (None without
        fine-tuning): half the squared error (``visible="gaussian"``) or the
        binary cross-entropy (``visible="bernoulli"``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    skmv.rbm.GaussianBernoulliRBM : The first layer for real-valued features.
    skmv.rbm.BernoulliRBM : The upper layers.
    sklearn.neural_network.MLPRegressor : A network trained by
        back-propagation alone, whose ``coefs_`` layout this class follows.

    Notes
    -----
    Fine-tuning follows Hinton and Salakhutdinov (2006). The ``L`` RBMs are
    unrolled into ``2 L`` layers: encoder ``i`` has the weights and hidden
    biases of ``rbms_[i]``, decoder ``2 L - 1 - i`` its transposed weights and
    visible biases (a learned ``sigma_`` of the Gaussian layer is folded into
    the weights); the encoder and decoder weights are then untied. Hidden
    layers, the code layer included, are logistic, so that ``transform``
    still gives probabilities; the output layer is linear with the squared
    error for Gaussian visible units, logistic with the cross-entropy for
    Bernoulli ones. Gradients of the mean loss per entry are computed by
    back-propagation on mini-batches of ``batch_size`` rows and applied with
    Adam (Kingma and Ba 2015; beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8),
    which needs no tuning of momentum and is insensitive to the scale of the
    loss; the original paper used conjugate gradients on large batches.

    Streaming (``chunk_size``) keeps about three chunks of X and of each
    layer's representation in memory besides the model, whatever the size
    of X. It costs time: the layers below are computed again, from X, for
    each epoch of a layer above (the lower layers' transforms once per
    epoch), and each layer reads X once more for its column means. With
    ``shuffle=False`` the mini-batches are those of the in-memory ``fit``
    and the network agrees with it to float32 rounding (of the column
    means, summed in float64 when streaming, in float32 in memory); with
    ``shuffle=True`` the chunks come in a shuffled order and their rows
    shuffled within each, which makes another model, as another seed does.

    References
    ----------
    G. E. Hinton, S. Osindero, Y.-W. Teh, "A fast learning algorithm for deep
    belief nets", Neural Computation 18(7), 2006.

    G. E. Hinton, R. R. Salakhutdinov, "Reducing the dimensionality of data
    with neural networks", Science 313(5786), 2006.

    D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR
    2015.

    B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
    multi-timescale shared representations", ACM Multimedia 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from skmv.dbn import DBNTransformer
    >>> X = np.random.default_rng(0).standard_normal((200, 8)).astype("float32")
    >>> dbn = DBNTransformer(hidden_layer_sizes=(6, 3), n_iter=3,
    ...                      fine_tune="autoencoder", fine_tune_n_iter=3,
    ...                      random_state=0).fit(X)
    >>> [type(rbm).__name__ for rbm in dbn.rbms_]
    ['GaussianBernoulliRBM', 'BernoulliRBM']
    >>> dbn.transform(X).shape
    (200, 3)
    >>> dbn.inverse_transform(dbn.transform(X)).shape
    (200, 8)
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "visible": [StrOptions({"gaussian", "bernoulli"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        **{name: _BaseRBM._parameter_constraints[name] for name in _SHARED},
        "layer_params": [list, tuple, None],
        "fine_tune": [StrOptions({"autoencoder"}), None],
        "fine_tune_n_iter": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 128),
        *,
        visible="gaussian",
        learning_rate=None,
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
        layer_params=None,
        fine_tune=None,
        fine_tune_n_iter=10,
        fine_tune_learning_rate=1e-3,
        random_state=None,
        device="auto",
        dtype="float32",
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.visible = visible
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
        self.layer_params = layer_params
        self.fine_tune = fine_tune
        self.fine_tune_n_iter = fine_tune_n_iter
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Building the layers
    # ------------------------------------------------------------------

    def _layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, Integral):
            sizes = [sizes]
        sizes = list(sizes)
        if not sizes or not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a non-empty "
                f"sequence of positive ints, got {self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _layer_class(self, i):
        if i == 0 and self.visible == "gaussian":
            return GaussianBernoulliRBM
        return BernoulliRBM

    def _make_layers(self, sizes, seeds):
        """Unfitted RBMs, one per layer, with their parameters validated.

        Shared parameters come first, ``layer_params[i]`` overrides them; the
        parameters are checked here, before any training, so that a bad value
        in the top layer does not wait for the lower layers to train.
        """
        overrides = self.layer_params
        if overrides is None:
            overrides = [{}] * len(sizes)
        if len(overrides) != len(sizes):
            raise ValueError(
                f"layer_params must hold one dict per layer: {len(sizes)} "
                f"layer(s) for hidden_layer_sizes={self.hidden_layer_sizes!r}, "
                f"got {len(overrides)}."
            )
        shared = {name: getattr(self, name) for name in _SHARED}
        if self.learning_rate is not None:
            shared["learning_rate"] = self.learning_rate
        layers = []
        for i, (size, seed, extra) in enumerate(zip(sizes, seeds, overrides)):
            cls = self._layer_class(i)
            where = f"layer_params[{i}] (layer {i}, {cls.__name__})"
            if not isinstance(extra, dict):
                raise TypeError(
                    f"{where} must be a dict of parameters, got {extra!r} "
                    f"({type(extra).__name__})."
                )
            valid = set(cls().get_params()) - set(_RESERVED)
            for key in extra:
                if key in _RESERVED:
                    raise ValueError(
                        f"{where} cannot set {key!r}: the network sets it for "
                        f"every layer from its {_RESERVED[key]!r} parameter."
                    )
                if key not in valid:
                    raise ValueError(
                        f"{where} has an unknown parameter {key!r}; valid "
                        f"parameters are {sorted(valid)}."
                    )
            rbm = cls(
                n_components=size,
                random_state=int(seed),
                device=self.device,
                dtype=self.dtype,
                verbose=self.verbose,
                **{**shared, **extra},
            )
            try:
                rbm._validate_params()
                rbm._validate_schedule()
            except (InvalidParameterError, ValueError) as exc:
                raise type(exc)(f"{where}: {exc}") from exc
            layers.append(rbm)
        return layers

    # ------------------------------------------------------------------
    # The unrolled network and the one loop that walks it
    # ------------------------------------------------------------------

    def _network(self, ctx, dtype):
        """(coefs, intercepts) of the fitted network where ``ctx`` computes:
        the fine-tuned weights when there are some, else the unrolled RBMs."""
        if self.coefs_ is None:
            return _unroll(self.rbms_, ctx, dtype)

        def cast(a):
            a = ctx.put(a)
            return a if a.dtype == dtype else ctx.xp.astype(a, dtype)

        return [cast(a) for a in self.coefs_], [cast(a) for a in self.intercepts_]

    def _walk(self, A, network, layers, xp, trace=None):
        """Run ``A`` through ``layers`` (indices into the unrolled network).

        Every layer is logistic except the output layer of a Gaussian
        network, which is linear. ``trace``, a list, collects each layer's
        output (back-propagation needs them).
        """
        coefs, intercepts = network
        output = len(coefs) - 1
        for i in layers:
            A = B.add_(B.matmul(A, coefs[i], xp), intercepts[i], xp)
            if not (i == output and self.visible == "gaussian"):
                A = B.sigmoid_(A, xp)
            if trace is not None:
                trace.append(A)
        return A

    @property
    def _first_weights(self):
        """An array of the fitted network, to tell where the model lives."""
        return self.rbms_[0].components_ if self.coefs_ is None else self.coefs_[0]

    @property
    def _n_layers(self):
        return len(self.rbms_)

    @property
    def _n_features_out(self):
        return self.rbms_[-1].n_components

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Pre-train the layers greedily, then fine-tune if asked.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (standardised features for ``visible="gaussian"``,
            values in [0, 1] for ``"bernoulli"``); NumPy, CuPy or any
            array-API array.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted network.
        """
        sizes = self._layer_sizes()
        # One seed per layer and one for fine-tuning, drawn whether or not it
        # fine-tunes, so that fine_tune does not change the pre-trained stack.
        seeds = check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max, size=len(sizes) + 1
        )
        layers = self._make_layers(sizes, seeds[:-1])
        if self.chunk_size is None:
            ctx = B.compute_context(X, self.device)
            X = validate_array(self, X, ctx, reset=True, dtype=self.dtype)
            where = X
        else:
            X, ctx = validate_stream(self, X, self.device, reset=True, dtype=self.dtype)
            where = _stream.to_compute(_stream.sample(X), ctx, self.dtype)
        xp = ctx.xp
        dtype = where.dtype

        # The fitted attributes are set at the end only, so that a layer that
        # diverges leaves no half-built network behind.
        H = X
        for i, rbm in enumerate(layers):
            begin = time.perf_counter()
            try:
                rbm.fit(H)
            except DivergenceError as exc:
                raise DivergenceError(
                    f"Pre-training layer {i} of {type(self).__name__} failed: {exc}"
                ) from exc
            if i + 1 == len(layers):
                H = None
            elif self.chunk_size is None:
                H = rbm.transform(H)
            else:
                # The layer above reads this one's output chunk by chunk,
                # computed from the chunks of X: never held whole.
                H = _stream.Rows(
                    H,
                    functools.partial(_hidden_rows, rbm, ctx, self.dtype),
                    rbm.n_components,
                    dtype,
                )
            if self.verbose:
                print(
                    f"[{type(self).__name__}] Layer {i + 1}/{len(layers)} "
                    f"({type(rbm).__name__}, {rbm.n_components} units) trained "
                    f"in {time.perf_counter() - begin:.2f}s"
                )
        tuned = None, None, None
        if self.fine_tune == "autoencoder":
            rng = B.make_rng(int(seeds[-1]), xp, B.device_of(where))
            tuned = self._fine_tune(X, _unroll(layers, ctx, dtype), ctx, rng)
        self.rbms_ = layers
        self.coefs_, self.intercepts_, self.loss_curve_ = tuned
        return self

    def _backprop(self, Xb, network, xp, work=None):
        """Reconstruction loss of the mini-batch ``Xb`` and its gradients.

        The loss is the mean over the entries of ``Xb`` of half the squared
        error (linear output) or of the binary cross-entropy (logistic
        output). Returns ``(loss, grads)``, loss a 0-d array and grads the
        gradients of ``coefs`` then of ``intercepts``; ``work``, a list of
        arrays shaped as ``coefs`` or None, receives the weight gradients.
        """
        coefs, intercepts = network
        n_net = len(coefs)
        trace = [Xb]
        out = self._walk(Xb, network, range(n_net), xp, trace)
        diff = out - Xb
        if self.visible == "gaussian":
            loss = 0.5 * xp.mean(diff * diff)
        else:
            p = xp.clip(out, CE_CLIP, 1.0 - CE_CLIP)
            loss = -xp.mean(Xb * xp.log(p) + (1.0 - Xb) * xp.log(1.0 - p))
        # For a linear output with the squared error and for a logistic output
        # with the cross-entropy alike, d loss / d pre-activation = out - x.
        delta = B.scale_(diff, 1.0 / (Xb.shape[0] * Xb.shape[1]), xp)
        grads = [None] * (2 * n_net)
        for i in range(n_net - 1, -1, -1):
            out_W = None if work is None else work[i]
            grads[i] = B.matmul_(trace[i].T, delta, out_W, xp)
            grads[n_net + i] = xp.sum(delta, axis=0)
            if i > 0:
                # Back through the logistic hidden layer i - 1 -> i: its
                # output A = trace[i] has derivative A (1 - A).
                A = trace[i]
                delta = B.matmul(delta, coefs[i].T, xp) * (A * (1.0 - A))
        return loss, grads

    def _fine_tune(self, X, network, ctx, rng):
        """Back-propagation of the reconstruction error through the unrolled
        ``network``, with Adam on mini-batches.

        Returns the fine-tuned ``(coefs, intercepts, loss_curve)``.
        """
        xp = ctx.xp
        coefs, intercepts = network
        # Copies: the decoder is untied from the encoder, and both from rbms_.
        coefs = [xp.asarray(a, copy=True) for a in coefs]
        intercepts = [xp.asarray(a, copy=True) for a in intercepts]
        params = coefs + intercepts
        adam = Adam(params, self.fine_tune_learning_rate, xp)
        work = [xp.empty_like(W) for W in coefs]
        n_samples = X.shape[0]
        n_net = len(coefs)
        curve = []
        for epoch in range(1, self.fine_tune_n_iter + 1):
            begin = time.perf_counter()
            total = 0.0
            for Xb in self._epoch_batches(X, ctx, rng):
                loss, grads = self._backprop(Xb, (coefs, intercepts), xp, work)
                total = total + loss * Xb.shape[0]
                params = adam.step(params, grads)
                coefs[:], intercepts[:] = params[:n_net], params[n_net:]
            loss = B.scalar(total) / n_samples
            if not np.isfinite(loss) or not all(B.all_finite(p, xp) for p in params):
                raise DivergenceError(
                    f"{type(self).__name__} fine-tuning diverged at epoch {epoch}: "
                    f"loss {loss:.3g}. Lower fine_tune_learning_rate (now "
                    f"{self.fine_tune_learning_rate}); standardise Gaussian inputs "
                    "to zero mean and unit variance."
                )
            curve.append(loss)
            if self.verbose:
                print(
                    f"[{type(self).__name__}] Fine-tuning epoch {epoch}/"
                    f"{self.fine_tune_n_iter}, loss = {loss:.4f}, "
                    f"time = {time.perf_counter() - begin:.2f}s"
                )
        return coefs, intercepts, curve

    def _epoch_batches(self, X, ctx, rng):
        """One epoch's mini-batches of fine-tuning: from X in memory, or read
        ``chunk_size`` rows at a time (see :mod:`skmv._stream`)."""
        xp = ctx.xp
        n_samples = X.shape[0]
        if self.chunk_size is not None:
            yield from _stream.iter_batches(
                X,
                _stream.batch_bounds(n_samples, self.batch_size),
                chunk_size=self.chunk_size,
                ctx=ctx,
                dtype=self.dtype,
                rng=rng,
                shuffle=self.shuffle,
            )
            return
        order = rng.permutation(n_samples) if self.shuffle else None
        for start in range(0, n_samples, self.batch_size):
            stop = min(start + self.batch_size, n_samples)
            idx = slice(start, stop) if order is None else order[start:stop]
            yield B.take(X, idx, xp)

    # ------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------

    def transform(self, X):
        """Top-layer probabilities, propagated up through every layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the input space; NumPy, CuPy or any array-API array.

        Returns
        -------
        H : array of shape (n_samples, hidden_layer_sizes[-1])
            In the namespace of ``X``. Without fine-tuning, the same as
            applying each of ``rbms_``'s ``transform`` in turn.
        """
        check_is_fitted(self)
        if self.chunk_size is not None and _stream.streamable(X):
            X, ctx = validate_stream(
                self, X, self.device, reset=False, dtype=self.dtype
            )
            check_same_place(
                self,
                _stream.sample(X),
                ctx,
                attribute="_first_weights",
                method="transform",
            )
            xp = ctx.xp
            network = self._network(ctx, B.resolve_dtype(self.dtype, X.dtype, xp))
            H = _stream.map_rows(
                X,
                lambda A, _: self._walk(A, network, range(self._n_layers), xp),
                self._n_features_out,
                chunk_size=self.chunk_size,
                ctx=ctx,
                dtype=self.dtype,
                estimator=self,
            )
            return ctx.give(H)
        ctx = B.compute_context(X, self.device)
        X = validate_array(self, X, ctx, reset=False, dtype=self.dtype)
        check_same_place(self, X, ctx, attribute="_first_weights", method="transform")
        xp = ctx.xp
        network = self._network(ctx, X.dtype)
        return ctx.give(self._walk(X, network, range(self._n_layers), xp))

    def inverse_transform(self, X):
        """Deterministic down pass from the top layer to the input space.

        Without fine-tuning, each RBM's mean visibles from the top layer to the
        bottom (the same as applying ``rbms_``'s ``inverse_transform`` in
        reverse order); with it, the fine-tuned decoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, hidden_layer_sizes[-1])
            Top-layer states or probabilities.

        Returns
        -------
        X_original : array of shape (n_samples, ``n_features_in_``)
            In the namespace of ``X``.
        """
        check_is_fitted(self)
        ctx = B.compute_context(X, self.device)
        H = validate_code(
            self,
            X,
            ctx,
            n_columns=self._n_features_out,
            what="hidden_layer_sizes[-1]",
            dtype=self.dtype,
            method="inverse_transform",
        )
        check_same_place(
            self, H, ctx, attribute="_first_weights", method="inverse_transform"
        )
        xp = ctx.xp
        network = self._network(ctx, H.dtype)
        n = self._n_layers
        return ctx.give(self._walk(H, network, range(n, 2 * n), xp))

    # ------------------------------------------------------------------
    # Devices, tags
    # ------------------------------------------------------------------

    def _device_children(self):
        return tuple(self.rbms_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.dtype is None else [self.dtype]
        )
        return tags
