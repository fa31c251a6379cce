"""Shared representations of several modalities: :class:`SharedRBM`.

Xu, Wang and Tang (2014), section 3.2. Each modality, a block of columns of
``X``, is encoded by its own model (in the paper a deep belief network); the
encodings are concatenated into one visible layer ``v = [v_1 | ... | v_m]``
and one more RBM, with binary hidden units ``h``, is trained on it. Its
hidden layer is the shared representation.

Every layer is undirected, so the model also fills in modalities that are
missing (section 3.2.2): clamp the encodings of the modalities that are
there, start the others at their training mean, and alternate
``P(h | v)`` and ``P(v_missing | h)`` until they settle; the encoder of a
missing modality then decodes its inferred encoding back to features.

Notation follows :mod:`skmv.rbm`: weights ``W`` (one row per shared hidden
unit), visible biases ``b``, hidden biases ``c``, all of ``rbm_``.
"""

from __future__ import annotations

import functools
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from . import _backend as B
from . import _stream
from ._finetune import _MAX_SCALE, split_encoder
from ._finetune import fine_tune as _fine_tune
from .base import DeviceMixin, check_same_place, validate_array, validate_stream
from .dbn import DBNTransformer
from .rbm import BernoulliRBM

__all__ = ["SharedRBM"]

# Parameters of SharedRBM that configure the shared BernoulliRBM as they are.
_RBM_PARAMS = (
    "n_components",
    "learning_rate",
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
    "device",
    "dtype",
    "verbose",
)
_INFER_CONSTRAINTS = {
    "n_gibbs": [Interval(Integral, 0, None, closed="left"), None],
    "mean_field": ["boolean"],
    "tol": [Interval(Real, 0, None, closed="left")],
}
_PASSTHROUGH = "passthrough"
# The contrastive temperature is learned no lower than this.
_MIN_TEMPERATURE = 1.0 / _MAX_SCALE
# Defaults of the inference chain. Mean-field iterations of a trained shared
# RBM settle to within 1e-4 in a few tens of steps; 100 bounds the slow rows.
_N_GIBBS = 100
_TOL = 1e-4
# A fine-tuned model is a feed-forward network: its inference is the one
# mean-field step it was trained as (skmv._finetune).
_N_GIBBS_FINE_TUNED = 1


def _is_passthrough(encoder):
    return isinstance(encoder, str) and encoder == _PASSTHROUGH


class _ModalityComposition(_BaseComposition):
    """``modalities=[(name, encoder, columns), ...]`` as a parameter.

    Shared by the estimators that declare modalities as ColumnTransformer
    declares transformers: nested ``name__param`` parameters, validation of
    the list, and resolution of the columns at fit. Not public.
    """

    # ------------------------------------------------------------------
    # Nested parameters (name__param), as ColumnTransformer has them
    # ------------------------------------------------------------------

    @property
    def _modalities(self):
        """(name, encoder) pairs, for ``_BaseComposition``'s parameter logic.

        Not for iteration: use ``_iter``.
        """
        try:
            return [(name, encoder) for name, encoder, _ in self.modalities]
        except (TypeError, ValueError):
            return self.modalities

    @_modalities.setter
    def _modalities(self, value):
        try:
            self.modalities = [
                (name, encoder, columns)
                for (name, encoder), (_, _, columns) in zip(value, self.modalities)
            ]
        except (TypeError, ValueError):
            self.modalities = value

    def get_params(self, deep=True):
        """Get parameters for this estimator.

        Returns the constructor's parameters and, with ``deep=True``, each
        encoder under its modality's name and the encoder's own parameters
        as ``name__param``.

        Parameters
        ----------
        deep : bool, default=True
            Include the encoders' parameters.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("_modalities", deep=deep)

    def set_params(self, **params):
        """Set the parameters of this estimator.

        Accepts every key of ``get_params(deep=True)``: ``name=encoder``
        replaces a modality's encoder, ``name__param=value`` sets one of its
        parameters.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : object
            This estimator.
        """
        self._set_params("_modalities", **params)
        return self

    # ------------------------------------------------------------------
    # Validation of the modalities
    # ------------------------------------------------------------------

    def _validate_modalities(self):
        """Check the structure of ``modalities``; raise naming the culprit."""
        modalities = self.modalities
        if len(modalities) < 1:
            raise ValueError(
                "modalities must list at least one (name, encoder, columns) "
                "tuple, got an empty list."
            )
        for i, item in enumerate(modalities):
            if not isinstance(item, (tuple, list)) or len(item) != 3:
                raise TypeError(
                    f"modalities[{i}] must be a (name, encoder, columns) tuple, "
                    f"got {item!r}."
                )
            name, encoder, columns = item
            if not isinstance(name, str):
                raise TypeError(
                    f"modalities[{i}]: a modality's name must be a str, got "
                    f"{name!r} (type {type(name).__name__})."
                )
            if isinstance(encoder, type):
                raise TypeError(
                    f"The encoder of modality {name!r} must be an estimator "
                    f"instance ({encoder.__name__}()), got the class "
                    f"{encoder.__name__}."
                )
            if isinstance(encoder, str) and not _is_passthrough(encoder):
                raise TypeError(
                    f"The encoder of modality {name!r} must be an estimator or "
                    f"'passthrough', got the string {encoder!r}."
                )
            if not _is_passthrough(encoder):
                missing = [
                    method
                    for method in ("fit", "transform", "inverse_transform")
                    if not hasattr(encoder, method)
                ]
                if missing:
                    raise TypeError(
                        f"The encoder of modality {name!r} must implement fit, "
                        "transform and inverse_transform, or be 'passthrough'; "
                        f"{encoder!r} (type {type(encoder).__name__}) lacks "
                        f"{', '.join(missing)}."
                    )
            if not (
                callable(columns)
                or isinstance(columns, slice)
                or _is_index_like(columns)
            ):
                raise TypeError(
                    f"The columns of modality {name!r} must be a slice, an "
                    "array-like of int, a boolean mask or a callable returning "
                    f"one of those, got {columns!r}."
                )

        names = [name for name, _, _ in modalities]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"Modality names must be unique; {repeated} appear more than once "
                f"in {names}."
            )
        with_dunder = [name for name in names if "__" in name]
        if with_dunder:
            raise ValueError(
                f"Modality names must not contain '__' (it separates nested "
                f"parameters): got {with_dunder}."
            )
        clashing = sorted(set(names) & set(self.get_params(deep=False)))
        if clashing:
            raise ValueError(
                f"Modality names {clashing} clash with parameters of "
                f"{type(self).__name__}; rename the modalities."
            )

    def _resolve_columns(self, X):
        """Each modality's columns against ``X``: a slice or int indices.

        Resolved into private state at fit; the user's ``modalities`` stay as
        they are (a callable stays a callable).
        """
        n_features = X.shape[1]
        owner = np.full(n_features, -1)
        resolved = []
        for i, (name, _, columns) in enumerate(self.modalities):
            if callable(columns):
                columns = columns(X)
                if not (isinstance(columns, slice) or _is_index_like(columns)):
                    raise TypeError(
                        f"The columns callable of modality {name!r} must return "
                        "a slice, an array-like of int or a boolean mask, got "
                        f"{columns!r}."
                    )
            idx = _column_indices(columns, n_features, name)
            taken = owner[idx]
            if np.any(taken >= 0):
                j = int(np.flatnonzero(taken >= 0)[0])
                other = self.modalities[int(taken[j])][0]
                raise ValueError(
                    f"Modalities {other!r} and {name!r} both select column "
                    f"{int(idx[j])}; their column blocks must not overlap."
                )
            owner[idx] = i
            resolved.append(_compact(idx))
        return resolved


class SharedRBM(
    DeviceMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _ModalityComposition,
):
    """Shared representation of several modalities: encoders, then one RBM.

    Each modality is a block of columns of ``X``, declared as the columns of
    a :class:`~sklearn.compose.ColumnTransformer` are. ``fit`` fits a clone
    of each modality's encoder on its block, concatenates the encodings into
    one visible layer and trains a :class:`~skmv.rbm.BernoulliRBM` on it
    (Xu, Wang and Tang 2014, section 3.2). ``transform`` returns that RBM's
    hidden activation probabilities: the shared representation.

    Because the model is undirected, it also completes modalities that are
    missing: :meth:`infer` fills their encodings from the given ones
    (section 3.2.2), :meth:`reconstruct` decodes one of them back to its
    features, and ``transform(X, given=...)`` computes the shared
    representation from some modalities alone.

    Parameters
    ----------
    modalities : list of (str, estimator or "passthrough", columns) tuples
        One tuple per modality:

        name : str
            Names the modality in ``given`` and ``target``, and its encoder's
            parameters, ``name__param``, in ``get_params`` and ``set_params``
            (so that ``GridSearchCV`` can tune ``video__n_components``).
            Unique, without ``"__"``, and not a parameter name of SharedRBM.
        encoder : estimator or "passthrough"
            Implements ``fit``, ``transform`` and ``inverse_transform``,
            typically a :class:`~skmv.dbn.DBNTransformer` or a
            :class:`~skmv.rbm.GaussianBernoulliRBM`; it is cloned, and the
            clone fitted on the modality's columns. ``"passthrough"`` uses the
            columns themselves as the encoding. The shared RBM reads
            encodings as probabilities, so they should lie in [0, 1], as
            RBM hidden activations do.
        columns : slice, array-like of int, boolean mask or callable
            The modality's columns of ``X``. A callable is called with the
            validated training ``X`` and returns one of the others. Blocks
            must not overlap; columns no modality selects are ignored.
    n_components : int, default=256
        Number of shared hidden units.
    learning_rate : float, default=0.1
        Step size of the shared RBM's updates.
    batch_size : int, default=100
        Rows per mini-batch of the shared RBM.
    n_iter : int, default=10
        Epochs of the shared RBM (the encoders keep their own).
    k : int, default=1
        Gibbs steps per update of the shared RBM (CD-k).
    persistent : bool, default=False
        Train the shared RBM with persistent chains (PCD-k).
    momentum : float or (float, float), default=(0.5, 0.9)
        Momentum of the shared RBM's updates; a pair gives the value for the
        first 5 epochs and the value after.
    weight_decay : float, default=1e-4
        Decoupled L2 penalty on the shared weights.
    sparsity_target : float, default=0.1
        Target mean activity of the shared hidden units, used when
        ``sparsity_cost > 0``.
    sparsity_cost : float, default=0.0
        Weight of the sparsity penalty of the shared RBM.
    shuffle : bool, default=True
        Shuffle the rows before each epoch of the shared RBM and of
        fine-tuning.
    chunk_size : int or None, default=None
        Rows read at once when training by streaming. With an int, ``fit``
        reads X (a NumPy memmap, a Zarr array,
        :attr:`skmv.store.FeatureStore.X`, or any 2-D array read by row
        slices) ``chunk_size`` rows at a time and never holds X, a
        modality's columns, an encoding or a scaled copy whole: each
        encoder is fitted on its modality's columns streamed chunk by chunk
        (its own ``chunk_size``, nested ones included, set to this one where
        it is None; a Pipeline's steps fitted in turn, each transformer by
        one streaming pass of ``partial_fit``, as StandardScaler has), the
        shared RBM on the encodings computed chunk by chunk, and
        fine-tuning on mini-batches cut from the chunks. ``transform``
        gathers its output chunk by chunk. None holds X and the encodings
        in memory. See Notes.
    fine_tune : {"crossmodal", "contrastive"} or None, default=None
        After greedy pre-training, train the whole network by
        back-propagation (see Notes): ``"crossmodal"`` so that each modality
        is reconstructed from the others alone and from all (a bimodal deep
        autoencoder), ``"contrastive"`` so that the shared representations
        inferred from two modalities of one row are closer, in cosine
        similarity, than those of different rows (symmetric InfoNCE). Needs
        every encoder to be a :class:`~skmv.dbn.DBNTransformer`, a
        :class:`~sklearn.pipeline.Pipeline` ending in one (its other steps,
        a scaler typically, are kept as they are), or ``"passthrough"``.
        None keeps the pre-trained model.
    fine_tune_n_iter : int, default=100
        Most epochs of fine-tuning. Each epoch takes as many whole
        mini-batches as the rows fill; the few rows left over change from
        epoch to epoch with ``shuffle``.
    fine_tune_learning_rate : float, default=3e-3
        Step size of Adam during fine-tuning.
    fine_tune_batch_size : int, default=128
        Rows per mini-batch of fine-tuning; with ``"contrastive"`` the other
        rows of a batch are each row's negatives, so larger batches make a
        harder task.
    fine_tune_dropout : float, default=0.2
        Probability of dropping each unit of a DBN encoder's layers, its
        encoding included, during fine-tuning (a ``"passthrough"``
        modality's columns are never dropped).
    temperature : float, default=0.07
        Initial temperature of the contrastive objective (it is learned;
        ``temperature_`` is the final one). At least 0.01, the bound that
        the learned temperature is kept above.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows from fine-tuning, stop
        when their loss has not improved for ``n_iter_no_change`` epochs and
        keep the weights of the best epoch.
    validation_fraction : float, default=0.1
        Rows held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement of the validation loss before stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds the shared RBM, the sampling of ``infer(mean_field=False)``,
        and every ``random_state`` parameter of an encoder (nested ones
        included) that is None, as ensembles seed their members; encoders
        whose ``random_state`` is set keep it. Pass an int for reproducible
        results.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where to compute: ``"auto"`` where the input lives, ``"cuda"`` on the
        GPU whatever the input, ``"cpu"`` with NumPy. The encoders receive
        their columns there and keep their own ``device``: with their default
        ``"auto"`` they compute there too. Outputs come back in the input's
        array type. ``to_device`` moves the shared RBM and every encoder that
        has a ``to_device`` of its own (skmv's estimators).
    dtype : {"float32", "float64"} or None, default="float32"
        Floating type of the shared layer; None keeps the input's.
    verbose : int, default=0
        Report each encoder's fit, the shared RBM's epochs and the loss of
        each epoch of fine-tuning.

    Attributes
    ----------
    modalities_ : list of (str, estimator or "passthrough", columns) tuples
        The fitted encoders, in the order of ``modalities``, with their
        columns resolved against the training ``X``: a slice when they are
        contiguous, else a list of int.
    named_modalities_ : :class:`~sklearn.utils.Bunch`
        The fitted encoders by modality name.
    rbm_ : :class:`~skmv.rbm.BernoulliRBM`
        The shared RBM; its visible layer is the concatenated encodings.
    encoding_slices_ : dict of str to slice
        Columns of each modality's encoding in the visible layer of ``rbm_``
        and in the output of :meth:`infer`.
    encoding_mean_ : array of shape (n_encodings,)
        Mean training encoding of the pre-trained encoders, where the
        inference of a missing modality starts (fine-tuning keeps it: it is
        the value that the fine-tuned network learned to read for a missing
        modality). ``n_encodings`` is the total width of the encodings.
    fine_tune_loss_curve_ : list of float or None
        Training loss of each epoch of fine-tuning; None without.
    fine_tune_validation_curve_ : list of float or None
        Loss of the held-out rows after each epoch, with
        ``early_stopping``; else None.
    temperature_ : float or None
        The learned temperature of ``fine_tune="contrastive"``; else None.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    skmv.rbm.BernoulliRBM : The shared layer.
    skmv.dbn.DBNTransformer : The usual encoder of a modality.
    sklearn.compose.ColumnTransformer : The same declaration of column blocks.

    Notes
    -----
    ``infer`` returns the probabilities ``P(v_missing = 1 | h)`` of its last
    step. With ``mean_field=True`` (the default) ``h`` is the probability
    ``P(h = 1 | v)`` itself and the iteration is deterministic, a mean-field
    fixed point; with ``mean_field=False`` ``h`` is sampled at each step, as
    the paper's Gibbs sampling does, and the result is one draw of a noisy
    chain. Each row stops once its largest change is below ``tol``, so a
    row's result does not depend on the other rows of ``X``.

    A fine-tuned model is read as a feed-forward network, and its inference
    is the single pass it was trained as: the given modalities are encoded,
    the missing ones stand at their mean training encoding, the shared layer
    is computed once (``transform(X, given=...)``), and one step down gives
    the missing encodings (``infer``, ``reconstruct``: ``n_gibbs=1`` by
    default). The shared weights stay tied between the two directions, so
    the model is still an RBM; its encoders' ``transform`` and
    ``inverse_transform`` use their fine-tuned weights. ``"contrastive"``
    trains the path up to the shared layer only: the decoders and the
    visible biases keep their pre-trained values, and the tied weights move
    under them, so compare its representations in the shared space rather
    than by ``reconstruct``.

    Streaming (``chunk_size``) keeps a few chunks in memory besides the
    model, whatever the size of X. Encoders other than skmv's must have
    ``partial_fit`` (a Pipeline: each of its steps), which fits them in one
    pass over the chunks; any other raises a ``TypeError`` naming the
    modality. It costs time: the encoders' transforms are computed again
    for each epoch of the shared RBM and of fine-tuning. With
    ``shuffle=False`` the mini-batches are those of the in-memory ``fit``
    and the model agrees with it to float32 rounding (of the column means,
    summed in float64 when streaming, in float32 in memory; fine-tuning
    carries it to about 1e-5 on the weights); with ``shuffle=True``
    the chunks are visited in a shuffled order, their rows shuffled within
    each, which makes another model, as another seed does.

    ``given`` must name at least one modality: with none clamped, the
    inferred encodings would not depend on ``X``. Naming all of them is
    allowed (nothing is inferred), except in :meth:`reconstruct`, whose
    ``target`` must be missing.

    References
    ----------
    B. Xu, X. Wang, X. Tang, "Fusing music and video modalities using
    multi-timescale shared representations", ACM Multimedia 2014.

    N. Srivastava, R. Salakhutdinov, "Multimodal learning with deep Boltzmann
    machines", NIPS 2012.

    J. Ngiam, A. Khosla, M. Kim, J. Nam, H. Lee, A. Y. Ng, "Multimodal deep
    learning", ICML 2011.

    A. van den Oord, Y. Li, O. Vinyals, "Representation learning with
    contrastive predictive coding", arXiv:1807.03748, 2018.

    Examples
    --------
    >>> from skmv.datasets import make_paired_modalities
    >>> from skmv.rbm import GaussianBernoulliRBM
    >>> from skmv.shared import SharedRBM
    >>> X, y = make_paired_modalities(n_samples=200, random_state=0)
    >>> model = SharedRBM(
    ...     [
    ...         ("a", GaussianBernoulliRBM(16, n_iter=5), slice(0, 40)),
    ...         ("b", GaussianBernoulliRBM(16, n_iter=5), slice(40, 70)),
    ...     ],
    ...     n_components=8,
    ...     n_iter=5,
    ...     random_state=0,
    ... ).fit(X)
    >>> model.transform(X).shape
    (200, 8)
    >>> model.transform(X, given=["a"]).shape  # from the first modality alone
    (200, 8)
    >>> model.reconstruct(X, given=["a"], target="b").shape
    (200, 30)
    """

    _parameter_constraints: dict = {
        "modalities": [list, tuple],
        **BernoulliRBM._parameter_constraints,
        "fine_tune": [StrOptions({"crossmodal", "contrastive"}), None],
        "fine_tune_n_iter": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "fine_tune_batch_size": [Interval(Integral, 2, None, closed="left")],
        "fine_tune_dropout": [Interval(Real, 0, 1, closed="left")],
        "temperature": [Interval(Real, _MIN_TEMPERATURE, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        modalities,
        *,
        n_components=256,
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
        fine_tune=None,
        fine_tune_n_iter=100,
        fine_tune_learning_rate=3e-3,
        fine_tune_batch_size=128,
        fine_tune_dropout=0.2,
        temperature=0.07,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        device="auto",
        dtype="float32",
        verbose=0,
    ):
        self.modalities = modalities
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
        self.fine_tune = fine_tune
        self.fine_tune_n_iter = fine_tune_n_iter
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.fine_tune_batch_size = fine_tune_batch_size
        self.fine_tune_dropout = fine_tune_dropout
        self.temperature = temperature
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Pieces every method shares
    # ------------------------------------------------------------------

    def _iter(self, fitted):
        """(name, encoder, columns) per modality, in order.

        ``fitted`` picks the fitted encoders of ``modalities_`` over the
        user's; columns are the private resolved form (slice or indices).
        """
        source = self.modalities_ if fitted else self.modalities
        for (name, encoder, _), columns in zip(source, self._columns):
            yield name, encoder, columns

    def _hstack(self, encodings, xp):
        """Join the modalities' encodings into the shared visible layer.

        A hook: a subclass may weight or transform the blocks here.
        """
        return xp.concat(encodings, axis=1)

    def _check_finite(self, X, names, xp, *, fitted=True, offset=0):
        """Refuse NaN or infinity in the columns of the modalities read;
        ``offset`` is the row number of X's first row (a chunk's)."""
        for name, _, columns in self._iter(fitted=fitted):
            if name not in names:
                continue
            block = B.take(X, columns, xp, axis=1)
            if not B.all_finite(block, xp):
                bad = B.to_numpy(~xp.all(xp.isfinite(block), axis=1))
                row = offset + int(np.flatnonzero(np.asarray(bad))[0])
                raise ValueError(
                    f"Input X contains NaN or infinity in the columns of "
                    f"modality {name!r} (first in row {row}); "
                    f"{type(self).__name__} needs finite values in the "
                    "modalities it reads."
                )

    def _encode(self, name, encoder, block, xp, dtype, *, fit=False, first=False):
        """One modality's encoding of ``block``, checked, in ``xp`` and ``dtype``.

        ``fit`` fits the encoder first; ``first`` (implied by ``fit``) marks
        the first encoding of a fitted encoder, which records its kind of
        array instead of checking its width.
        """
        first = first or fit
        if _is_passthrough(encoder):
            H = block
        elif fit and hasattr(encoder, "fit_transform"):
            H = encoder.fit_transform(block)
        else:
            if fit:
                encoder.fit(block)
            H = encoder.transform(block)
        # An encoder from outside skmv may answer in NumPy whatever it got, or
        # in a data frame under scikit-learn's set_output.
        if not B.is_array(H) and hasattr(H, "__array__"):
            H = np.asarray(H)
        if first and isinstance(H, np.ndarray) and not isinstance(block, np.ndarray):
            # Its inverse_transform then takes NumPy too (a Pipeline whose
            # scaler hands its DBN NumPy, say): reconstruct gives it NumPy.
            self._numpy_encodings.add(name)
        H = B.to_namespace(H, xp, B.device_of(block))
        if not B.is_array(H) or H.ndim != 2 or H.shape[0] != block.shape[0]:
            raise ValueError(
                f"The encoder of modality {name!r} must return a 2-D array with "
                f"one row per sample ({block.shape[0]}), got "
                f"{getattr(H, 'shape', type(H).__name__)}."
            )
        if H.dtype != dtype:
            H = xp.astype(H, dtype)
        if not first and H.shape[1] != self._width(name):
            raise ValueError(
                f"The encoder of modality {name!r} returned {H.shape[1]} "
                f"columns, but it returned {self._width(name)} at fit."
            )
        if not B.all_finite(H, xp):
            raise ValueError(
                f"The encoding of modality {name!r} contains NaN or infinity."
            )
        return H

    def _width(self, name):
        s = self.encoding_slices_[name]
        return s.stop - s.start

    @property
    def _n_features_out(self):
        return self.rbm_.components_.shape[0]

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------

    @_fit_context(
        # The encoders validate their own parameters when they are fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None):
        """Fit each modality's encoder, then the shared RBM on their encodings.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, every modality present; NumPy, CuPy or any
            array-API array.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted model.
        """
        self._validate_modalities()
        if self.chunk_size is not None:
            return self._fit_stream(X)
        ctx = B.compute_context(X, self.device)
        X = validate_array(
            self, X, ctx, reset=True, dtype=self.dtype, ensure_all_finite=False
        )
        xp = ctx.xp
        self._columns = self._resolve_columns(X)
        names = [name for name, _, _ in self.modalities]
        self._check_finite(X, names, xp, fitted=False)
        if self.fine_tune is not None:
            self._check_tunable()

        random_state = check_random_state(self.random_state)
        seeds = random_state.randint(np.iinfo(np.int32).max, size=len(names) + 1)
        fitted, encodings = [], []
        self._numpy_encodings = set()
        for i, (name, encoder, columns) in enumerate(self._iter(fitted=False)):
            begin = time.perf_counter()
            if not _is_passthrough(encoder):
                encoder = _seeded(clone(encoder), seeds[i])
            block = B.take(X, columns, xp, axis=1)
            encodings.append(self._encode(name, encoder, block, xp, X.dtype, fit=True))
            fitted.append((name, encoder, _public_columns(columns)))
            if self.verbose:
                print(
                    f"[{type(self).__name__}] ({i + 1} of {len(names)}) encoded "
                    f"modality {name!r}: {block.shape[1]} -> "
                    f"{encodings[-1].shape[1]} columns, "
                    f"time = {time.perf_counter() - begin:.2f}s"
                )

        offsets = np.cumsum([0] + [H.shape[1] for H in encodings])
        self.encoding_slices_ = {
            name: slice(int(start), int(stop))
            for name, start, stop in zip(names, offsets[:-1], offsets[1:])
        }
        V = self._hstack(encodings, xp)
        params = {name: getattr(self, name) for name in _RBM_PARAMS}
        self.rbm_ = BernoulliRBM(**params, random_state=int(seeds[-1])).fit(V)
        self.encoding_mean_ = xp.mean(V, axis=0)
        self.modalities_ = fitted
        self._finish_fit(X, ctx, random_state)
        return self

    def _finish_fit(self, X, ctx, random_state):
        """Record the fitted encoders and fine-tune if asked (both paths)."""
        fitted = self.modalities_
        self.named_modalities_ = Bunch(**{name: enc for name, enc, _ in fitted})
        self.fine_tune_loss_curve_ = None
        self.fine_tune_validation_curve_ = None
        self.temperature_ = None
        if self.fine_tune is not None:
            # Drawn after the pre-training seeds, so that fine_tune leaves
            # the pre-trained model as it is without.
            seed = int(random_state.randint(np.iinfo(np.int32).max))
            where = X if self.chunk_size is None else _stream.sample(X)
            rng = B.make_rng(seed, ctx.xp, B.device_of(ctx.put(where)))
            begin = time.perf_counter()
            (
                self.fine_tune_loss_curve_,
                self.fine_tune_validation_curve_,
                self.temperature_,
            ) = _fine_tune(self, X, ctx, rng)
            if self.verbose:
                print(
                    f"[{type(self).__name__}] Fine-tuned ({self.fine_tune}) in "
                    f"{len(self.fine_tune_loss_curve_)} epochs, "
                    f"time = {time.perf_counter() - begin:.2f}s"
                )

    def _fit_stream(self, X):
        """``fit`` reading X ``chunk_size`` rows at a time (see Notes)."""
        X, ctx = validate_stream(
            self, X, self.device, reset=True, dtype=self.dtype, ensure_all_finite=False
        )
        xp = ctx.xp
        dtype = _stream.to_compute(_stream.sample(X), ctx, self.dtype).dtype
        self._columns = self._resolve_columns(X)
        names = [name for name, _, _ in self.modalities]
        for start, A in _stream.iter_chunks(X, self.chunk_size, ctx, self.dtype):
            self._check_finite(A, names, xp, fitted=False, offset=start)
        if self.fine_tune is not None:
            self._check_tunable()

        random_state = check_random_state(self.random_state)
        seeds = random_state.randint(np.iinfo(np.int32).max, size=len(names) + 1)
        fitted, widths = [], []
        self._numpy_encodings = set()
        for i, (name, encoder, columns) in enumerate(self._iter(fitted=False)):
            begin = time.perf_counter()
            n_columns = (
                len(range(X.shape[1])[columns])
                if isinstance(columns, slice)
                else len(columns)
            )
            # The modality's columns, read chunk by chunk where the model
            # computes: never held whole.
            block = _stream.Rows(
                X,
                functools.partial(_columns_rows, columns, ctx, self.dtype),
                n_columns,
                dtype,
            )
            if not _is_passthrough(encoder):
                encoder = _stream.set_chunk_size(
                    _seeded(clone(encoder), seeds[i]), self.chunk_size
                )
                _stream.fit_stream(
                    encoder,
                    block,
                    self.chunk_size,
                    who=f"The encoder of modality {name!r}",
                )
            first = self._encode(name, encoder, block[0:1, ...], xp, dtype, first=True)
            widths.append(first.shape[1])
            fitted.append((name, encoder, _public_columns(columns)))
            if self.verbose:
                print(
                    f"[{type(self).__name__}] ({i + 1} of {len(names)}) encoded "
                    f"modality {name!r}: {n_columns} -> {widths[-1]} columns, "
                    f"time = {time.perf_counter() - begin:.2f}s"
                )

        offsets = np.cumsum([0] + widths)
        self.encoding_slices_ = {
            name: slice(int(start), int(stop))
            for name, start, stop in zip(names, offsets[:-1], offsets[1:])
        }
        # The shared RBM's visible layer, computed chunk by chunk from X.
        V = _stream.Rows(
            X,
            functools.partial(self._encoded_rows, fitted, ctx),
            int(offsets[-1]),
            dtype,
        )
        params = {name: getattr(self, name) for name in _RBM_PARAMS}
        self.rbm_ = BernoulliRBM(**params, random_state=int(seeds[-1])).fit(V)
        self.encoding_mean_ = _stream.scan(
            V,
            chunk_size=self.chunk_size,
            ctx=ctx,
            dtype=self.dtype,
            estimator=self,
            finite=False,
        )[0]
        self.modalities_ = fitted
        self._finish_fit(X, ctx, random_state)
        return self

    def _encoded_rows(self, fitted, ctx, A):
        """The joint visible layer of rows ``A`` of X, every modality encoded
        by its fitted encoder in ``fitted``."""
        xp = ctx.xp
        A = _stream.to_compute(A, ctx, self.dtype)
        encodings = [
            self._encode(name, encoder, B.take(A, columns, xp, axis=1), xp, A.dtype)
            for (name, encoder, _), columns in zip(fitted, self._columns)
        ]
        return self._hstack(encodings, xp)

    def _check_tunable(self):
        """Fine-tuning back-propagates through the encoders: refuse those
        whose network it can not read, and a model with nothing to relate."""
        if len(self.modalities) < 2:
            raise ValueError(
                f"fine_tune={self.fine_tune!r} trains each modality's "
                "representation against the others' and needs at least 2 "
                f"modalities; this SharedRBM has {len(self.modalities)}."
            )
        for name, encoder, _ in self.modalities:
            network = split_encoder(encoder)[1]
            if network is None or isinstance(network, DBNTransformer):
                continue
            raise ValueError(
                f"fine_tune={self.fine_tune!r} back-propagates through the "
                "encoders, which must be DBNTransformer, a Pipeline ending in "
                f"one, or 'passthrough'; modality {name!r} has "
                f"{type(network).__name__}. A one-layer "
                "DBNTransformer(hidden_layer_sizes=n) is an RBM encoder that "
                "can be fine-tuned."
            )

    @property
    def _fine_tuned(self):
        # No epoch run (fine_tune_n_iter=0) leaves the pre-trained model.
        return bool(getattr(self, "fine_tune_loss_curve_", None))

    def _default_n_gibbs(self, n_gibbs):
        if n_gibbs is not None:
            return n_gibbs
        return _N_GIBBS_FINE_TUNED if self._fine_tuned else _N_GIBBS

    # ------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------

    def _check_given(self, given):
        names = [name for name, _, _ in self.modalities_]
        if given is None:
            return names
        if isinstance(given, str):
            given = [given]
        try:
            given = list(given)
        except TypeError:
            raise TypeError(
                f"given must be a modality name or a list of names, got {given!r}."
            ) from None
        for name in given:
            if not isinstance(name, str) or name not in names:
                raise ValueError(
                    f"Unknown modality {name!r} in given; the modalities are {names}."
                )
        repeated = sorted({name for name in given if given.count(name) > 1})
        if repeated:
            raise ValueError(f"given names {repeated} more than once.")
        if not given:
            raise ValueError(
                "given must name at least one modality: with none clamped, the "
                "inferred encodings would not depend on X."
            )
        return [name for name in names if name in given]

    def _prepare(self, X, given, method):
        check_is_fitted(self)
        given = self._check_given(given)
        ctx = B.compute_context(X, self.device)
        X = validate_array(
            self, X, ctx, reset=False, dtype=self.dtype, ensure_all_finite=False
        )
        check_same_place(self, X, ctx, attribute="encoding_mean_", method=method)
        self._check_finite(X, given, ctx.xp)
        return X, ctx, given

    def _infer(self, X, given, ctx, *, n_gibbs, mean_field, tol):
        """The joint visible layer: given blocks encoded and clamped, others
        inferred in the shared RBM. Vectorised over rows; loops over steps."""
        xp, dtype, device = ctx.xp, X.dtype, B.device_of(X)
        W, c, b, _ = self.rbm_._arrays(ctx, dtype)
        encodings = {
            name: self._encode(name, encoder, B.take(X, columns, xp, axis=1), xp, dtype)
            for name, encoder, columns in self._iter(fitted=True)
            if name in given
        }
        names = [name for name, _, _ in self.modalities_]
        missing = [name for name in names if name not in given]
        if not missing:
            return self._hstack([encodings[name] for name in names], xp)

        # The given blocks' input to the hidden units does not change: compute
        # it once, c + sum_g v_g W_g^T, and iterate on the missing block only.
        slices = self.encoding_slices_
        pre_given = c
        for name in given:
            pre_given = pre_given + B.matmul(encodings[name], W[:, slices[name]].T, xp)
        W_m = xp.concat([W[:, slices[name]] for name in missing], axis=1)
        b_m = xp.concat([b[slices[name]] for name in missing], axis=0)
        mean = ctx.put(self.encoding_mean_)
        mean_m = xp.astype(
            xp.concat([mean[slices[name]] for name in missing], axis=0), dtype
        )
        n = X.shape[0]
        V_m = xp.zeros((n, W_m.shape[1]), dtype=dtype, device=device) + mean_m
        rng = None if mean_field else B.make_rng(self.random_state, xp, device)
        active = xp.ones(n, dtype=xp.bool, device=device)
        for _ in range(n_gibbs):
            h = B.sigmoid_(pre_given + B.matmul(V_m, W_m.T, xp), xp)
            if not mean_field:
                h = B.bernoulli_(h, rng, xp)
            V_new = B.sigmoid_(B.matmul(h, W_m, xp) + b_m, xp)
            change = xp.max(xp.abs(V_new - V_m), axis=1)
            # A row that has settled keeps its value, whatever the others do.
            V_m = xp.where(xp.expand_dims(active, axis=1), V_new, V_m)
            active = xp.logical_and(active, change >= tol)
            if not bool(xp.any(active)):
                break

        blocks, start = [], 0
        for name in names:
            if name in encodings:
                blocks.append(encodings[name])
            else:
                width = self._width(name)
                blocks.append(V_m[:, start : start + width])
                start += width
        return self._hstack(blocks, xp)

    def infer(self, X, given, *, n_gibbs=None, mean_field=True, tol=_TOL):
        """Encodings of all modalities, the missing ones inferred from ``given``.

        The encodings of the ``given`` modalities are computed and clamped;
        those of the others start at their training mean, then the shared
        RBM alternates ``P(h | v)`` and ``P(v_missing | h)`` until the
        largest change of a row is below ``tol`` or ``n_gibbs`` steps are
        done (Xu, Wang and Tang 2014, section 3.2.2).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The columns of the modalities not given are not read: they may
            hold anything, NaN included.
        given : str or list of str
            Names of the modalities that are there; at least one.
        n_gibbs : int or None, default=None
            Most alternations of the chain; 0 leaves the missing encodings
            at their training mean. None: 100 for a pre-trained model, 1 for
            a fine-tuned one (the single step its network was trained as).
        mean_field : bool, default=True
            Use the probabilities ``P(h = 1 | v)`` (deterministic); False
            samples ``h`` at each step, seeded from ``random_state``.
        tol : float, default=1e-4
            A row stops when no missing encoding moved more than this in one
            step; 0 runs all ``n_gibbs`` steps.

        Returns
        -------
        V : array of shape (n_samples, n_encodings)
            The visible layer of ``rbm_``: modality ``name`` in columns
            ``encoding_slices_[name]``; the given blocks are their encodings
            exactly, the others probabilities. In the namespace of ``X``.
        """
        validate_parameter_constraints(
            _INFER_CONSTRAINTS,
            {"n_gibbs": n_gibbs, "mean_field": mean_field, "tol": tol},
            caller_name="infer",
        )
        X, ctx, given = self._prepare(X, given, "infer")
        n_gibbs = self._default_n_gibbs(n_gibbs)
        V = self._infer(X, given, ctx, n_gibbs=n_gibbs, mean_field=mean_field, tol=tol)
        return ctx.give(V)

    def transform(self, X, given=None):
        """Shared representation, ``P(h = 1 | v)``, from all or some modalities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        given : str, list of str or None, default=None
            None uses every modality. Otherwise the representation is
            computed from these modalities alone, the others' encodings
            inferred first as :meth:`infer` does with its defaults (a
            fine-tuned model leaves them at their training mean: its shared
            layer was trained on that one pass up); their columns are not
            read and may hold anything, NaN included.

        Returns
        -------
        h : array of shape (n_samples, n_components)
            In the namespace of ``X``.
        """
        n_gibbs = 0 if self._fine_tuned else _N_GIBBS
        if self.chunk_size is not None and _stream.streamable(X):
            check_is_fitted(self)
            given = self._check_given(given)
            X, ctx = validate_stream(
                self,
                X,
                self.device,
                reset=False,
                dtype=self.dtype,
                ensure_all_finite=False,
            )
            check_same_place(
                self,
                _stream.sample(X),
                ctx,
                attribute="encoding_mean_",
                method="transform",
            )
            xp = ctx.xp

            def shared(A, start):
                self._check_finite(A, given, xp, offset=start)
                V = self._infer(
                    A, given, ctx, n_gibbs=n_gibbs, mean_field=True, tol=_TOL
                )
                P = self.rbm_._arrays(ctx, V.dtype)
                return self.rbm_._mean_hiddens(V, P, xp)

            H = _stream.map_rows(
                X,
                shared,
                self.n_components,
                chunk_size=self.chunk_size,
                ctx=ctx,
                dtype=self.dtype,
                estimator=self,
                finite=False,
            )
            return ctx.give(H)
        X, ctx, given = self._prepare(X, given, "transform")
        V = self._infer(X, given, ctx, n_gibbs=n_gibbs, mean_field=True, tol=_TOL)
        P = self.rbm_._arrays(ctx, V.dtype)
        return ctx.give(self.rbm_._mean_hiddens(V, P, ctx.xp))

    def reconstruct(self, X, given, target, *, n_gibbs=None, mean_field=True, tol=_TOL):
        """A missing modality in its own feature space, from the given ones.

        Infers the encodings as :meth:`infer` does, then decodes the target's
        block with its encoder's ``inverse_transform`` (``"passthrough"``:
        the block itself). Cross-modal retrieval ranks a database by the
        distance to this reconstruction (section 3.2.2).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The columns of the modalities not given may hold anything.
        given : str or list of str
            Names of the modalities that are there; at least one.
        target : str
            Name of the modality to reconstruct; must not be in ``given``.
        n_gibbs : int or None, default=None
            Most alternations of the chain (see :meth:`infer`).
        mean_field : bool, default=True
            Use probabilities (True) or samples (False) of ``h``.
        tol : float, default=1e-4
            Per-row convergence threshold.

        Returns
        -------
        X_target : array of shape (n_samples, n_target_features)
            The reconstructed columns of ``target``, in the namespace of
            ``X``.
        """
        validate_parameter_constraints(
            _INFER_CONSTRAINTS,
            {"n_gibbs": n_gibbs, "mean_field": mean_field, "tol": tol},
            caller_name="reconstruct",
        )
        check_is_fitted(self)
        names = list(self.named_modalities_)
        if not isinstance(target, str) or target not in names:
            raise ValueError(
                f"Unknown target modality {target!r}; the modalities are {names}."
            )
        given_names = self._check_given(given)
        if target in given_names:
            raise ValueError(
                f"target {target!r} is in given; reconstruct fills a modality "
                "that is missing."
            )
        X, ctx, given_names = self._prepare(X, given_names, "reconstruct")
        n_gibbs = self._default_n_gibbs(n_gibbs)
        V = self._infer(
            X, given_names, ctx, n_gibbs=n_gibbs, mean_field=mean_field, tol=tol
        )
        block = V[:, self.encoding_slices_[target]]
        encoder = self.named_modalities_[target]
        if _is_passthrough(encoder):
            return ctx.give(block)
        if target in getattr(self, "_numpy_encodings", ()):
            block = B.to_numpy(block)
        return ctx.give(encoder.inverse_transform(block))

    # ------------------------------------------------------------------
    # Devices, tags
    # ------------------------------------------------------------------

    def _device_children(self):
        encoders = tuple(
            encoder
            for _, encoder, _ in self.modalities_
            if hasattr(encoder, "to_device")
        )
        return (*encoders, self.rbm_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.dtype is None else [self.dtype]
        )
        return tags


# --------------------------------------------------------------------------
# Column selectors
# --------------------------------------------------------------------------


def _is_index_like(columns):
    """Array-like of int or bool (not a str, a scalar or a slice)."""
    if isinstance(columns, (str, bytes, slice)) or callable(columns):
        return False
    try:
        a = np.asarray(columns)
    except Exception:
        return False
    return a.ndim == 1 and (a.size == 0 or a.dtype.kind in "iub")


def _column_indices(columns, n_features, name):
    """Int indices of ``columns`` in [0, n_features), in the order given."""
    if isinstance(columns, slice):
        for bound in (columns.start, columns.stop):
            if bound is not None and not -n_features <= bound <= n_features:
                raise ValueError(
                    f"The columns of modality {name!r}, {columns}, are out of "
                    f"range for X with {n_features} feature(s)."
                )
        idx = np.arange(n_features)[columns]
    else:
        a = np.asarray(columns)
        if a.dtype.kind == "b":
            if a.shape[0] != n_features:
                raise ValueError(
                    f"The boolean mask of modality {name!r} has {a.shape[0]} "
                    f"entries, but X has {n_features} feature(s)."
                )
            idx = np.flatnonzero(a)
        else:
            a = a.astype(np.intp)
            out = (a < -n_features) | (a >= n_features)
            if np.any(out):
                raise ValueError(
                    f"Column {int(a[out][0])} of modality {name!r} is out of "
                    f"range for X with {n_features} feature(s)."
                )
            idx = np.where(a < 0, a + n_features, a)
            if np.unique(idx).size != idx.size:
                raise ValueError(
                    f"The columns of modality {name!r} repeat a column: {idx.tolist()}."
                )
    if idx.size == 0:
        raise ValueError(
            f"Modality {name!r} selects no column of X, which has "
            f"{n_features} feature(s)."
        )
    return idx


def _compact(idx):
    """A slice for contiguous ascending indices (a view), else the indices."""
    if idx.size == 1 or np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _columns_rows(columns, ctx, dtype, A):
    """Columns ``columns`` of rows ``A`` of X, where ``ctx`` computes."""
    if not (isinstance(A, np.ndarray) or B.is_array(A)):
        A = np.asarray(A)
    return _stream.to_compute(
        B.take(A, columns, B.get_namespace(A), axis=1), ctx, dtype
    )


def _public_columns(columns):
    return columns if isinstance(columns, slice) else columns.tolist()


def _seeded(encoder, seed):
    """Set every ``random_state`` of ``encoder`` that is None from ``seed``."""
    if not hasattr(encoder, "get_params"):
        return encoder
    random_state = np.random.RandomState(seed)
    params = encoder.get_params(deep=True)
    unset = {
        key: int(random_state.randint(np.iinfo(np.int32).max))
        for key in sorted(params)
        if (key == "random_state" or key.endswith("__random_state"))
        and params[key] is None
    }
    if unset:
        encoder.set_params(**unset)
    return encoder
