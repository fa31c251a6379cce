"""Fine-tuning of a pre-trained :class:`~skmv.shared.SharedRBM` by back-propagation.

After greedy pre-training, the encoders and the shared RBM are read as one
feed-forward network (the paper: "the whole network can be fine tuned after
pre-training"). Its pass from some given modalities is the first step of
:meth:`SharedRBM.infer <skmv.shared.SharedRBM.infer>` with mean-field units:

* up: each given modality ``m`` is encoded, ``e_m = enc_m(x_m)`` (the
  encoder half of its :class:`~skmv.dbn.DBNTransformer`, or the columns
  themselves for ``"passthrough"``); a missing one stands at its mean
  training encoding ``ebar_m``; the shared layer is
  ``h = sigmoid(c + sum_m e_m W_m^T)``, ``W_m`` the columns of the shared
  weights that read modality ``m``;
* down: ``v_m = sigmoid(h W_m + b_m)``, then the decoder half of the
  modality's network, ``x_m' = dec_m(v_m)``.

The shared weights are tied between the two directions, as in the RBM, so
that :meth:`~skmv.shared.SharedRBM.infer`, ``reconstruct`` and
``transform(X, given=...)`` compute exactly the trained network.

Two objectives:

``"crossmodal"``
    The bimodal deep autoencoder of Ngiam et al. (ICML 2011): every modality
    is reconstructed from all of them and from the others alone (the
    modality itself missing); the loss is the mean over these inputs of the
    sum over modalities of the reconstruction loss (half the mean squared
    error for a Gaussian network, the mean binary cross-entropy for units in
    [0, 1]).
``"contrastive"``
    Symmetric InfoNCE (van den Oord et al. 2018; Radford et al. 2021) between
    the shared representations inferred from each modality alone, with
    in-batch negatives and a learned temperature: the representation of a
    row's video is to be closer, in cosine similarity, to that of its own
    music than to the music of the other rows of the mini-batch. The
    representation is read centred, ``2 h - 1``, so that its cosine is not
    dominated by the all-positive probabilities. The encoders and the
    shared layer are trained; the decoders and the visible biases of the
    shared layer keep their pre-trained weights. The shared weights are tied,
    so the path down from the shared layer changes too, untrained:
    representations fine-tuned this way are compared in the shared space.

Gradients are written out by hand for the arrays of :mod:`skmv._backend`
(NumPy or CuPy), and the parameters are updated by Adam.

With the model's ``chunk_size`` set, the mini-batches are cut from chunks of
X read one at a time (:mod:`skmv._stream`), each chunk's towers' inputs
(their columns through their fixed prefix) computed as it is read: memory
holds a chunk, never the whole of X or of a tower's input.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np

from . import _backend as B
from . import _stream
from .exceptions import DivergenceError

# Adam's constants (Kingma and Ba 2015, section 2), as in scikit-learn's MLP.
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8
# Probabilities are clipped this far from 0 and 1 in a cross-entropy.
CE_CLIP = 1e-7
# The learned inverse temperature of InfoNCE is kept at most this (CLIP's
# bound): the temperature at least 1 / _MAX_SCALE.
_MAX_SCALE = 100.0


class Adam:
    """Adam on a list of arrays, updated in place where the namespace allows.

    ``step(params, grads)`` returns the updated list; the bias corrections
    are folded into the step size.
    """

    def __init__(self, params, learning_rate, xp):
        self.xp = xp
        self.learning_rate = float(learning_rate)
        self.first = [xp.zeros_like(p) for p in params]
        self.second = [xp.zeros_like(p) for p in params]
        self.n_steps = 0

    def step(self, params, grads):
        xp = self.xp
        self.n_steps += 1
        t = self.n_steps
        lr_t = self.learning_rate * math.sqrt(1.0 - ADAM_BETA2**t)
        lr_t /= 1.0 - ADAM_BETA1**t
        out = []
        for j, (p, g) in enumerate(zip(params, grads)):
            m = B.scale_(self.first[j], ADAM_BETA1, xp)
            self.first[j] = m = B.add_(m, (1.0 - ADAM_BETA1) * g, xp)
            v = B.scale_(self.second[j], ADAM_BETA2, xp)
            self.second[j] = v = B.add_(v, (1.0 - ADAM_BETA2) * (g * g), xp)
            out.append(B.add_(p, (-lr_t) * m / (xp.sqrt(v) + ADAM_EPSILON), xp))
        return out


class _Tower:
    """One modality's part of the network: where its parameters are in the
    flat list, and how its decoder ends."""

    def __init__(self, name, columns, encoding, n_layers, linear_output):
        self.name = name
        self.columns = columns  # columns of X (slice or indices)
        self.encoding = encoding  # its columns in the shared visible layer
        self.n_layers = n_layers  # encoder layers (0: passthrough)
        self.linear_output = linear_output
        self.enc = []  # indices of (W, b) pairs in the flat parameter list
        self.dec = []
        self.prefix = None  # fixed steps of a Pipeline before the network

    def block(self, X, xp):
        """The tower's input: its columns, through the fixed prefix if any."""
        block = B.take(X, self.columns, xp, axis=1)
        if self.prefix is None:
            return block
        H = self.prefix.transform(block)
        if not B.is_array(H):
            H = np.asarray(H)
        H = B.to_namespace(H, xp, B.device_of(block))
        return H if H.dtype == block.dtype else xp.astype(H, block.dtype)


def split_encoder(encoder):
    """(fixed prefix or None, network or None) of a modality's encoder.

    The network is a :class:`~skmv.dbn.DBNTransformer` (itself, or the last
    step of a Pipeline, nested or not, whose other steps fine-tuning keeps as
    they are, a scaler typically); None for ``"passthrough"``. Anything else
    is not fine-tunable: (None, the encoder).
    """
    from sklearn.pipeline import Pipeline

    if isinstance(encoder, str):
        return None, None
    if isinstance(encoder, Pipeline):
        outer = encoder[:-1] if len(encoder.steps) > 1 else None
        inner, network = split_encoder(encoder[-1])
        if outer is None or inner is None:
            return (inner if outer is None else outer), network
        return Pipeline([("outer", outer), ("inner", inner)]), network
    return None, encoder


class SharedNetwork:
    """The unrolled encoders and shared layer of a pre-trained SharedRBM.

    Parameters are one flat list, ``params``, so that one Adam updates them
    all; towers and the shared layer keep indices into it.
    """

    def __init__(self, model, ctx, dtype, objective):
        xp = ctx.xp
        self.xp = xp
        self.objective = objective
        self.params = []

        def add(a):
            self.params.append(xp.asarray(a, copy=True))
            return len(self.params) - 1

        self.towers = []
        for name, encoder, columns in model._iter(fitted=True):
            prefix, encoder = split_encoder(encoder)
            if encoder is None:
                tower = _Tower(name, columns, model.encoding_slices_[name], 0, False)
            else:
                coefs, intercepts = encoder._network(ctx, dtype)
                L = len(coefs) // 2
                tower = _Tower(
                    name,
                    columns,
                    model.encoding_slices_[name],
                    L,
                    encoder.visible == "gaussian",
                )
                tower.enc = [(add(coefs[i]), add(intercepts[i])) for i in range(L)]
                # The contrastive objective leaves the decoders as they are.
                if objective == "crossmodal":
                    tower.dec = [
                        (add(coefs[i]), add(intercepts[i])) for i in range(L, 2 * L)
                    ]
            tower.prefix = prefix
            self.towers.append(tower)
        W, c, b, _ = model.rbm_._arrays(ctx, dtype)
        self.W, self.c = add(W), add(c)
        self.b = add(b) if objective == "crossmodal" else None
        mean = ctx.put(model.encoding_mean_)
        self.fill = {t.name: xp.astype(mean[t.encoding], dtype) for t in self.towers}
        self.log_scale = None
        if objective == "contrastive":
            scale = min(1.0 / model.temperature, _MAX_SCALE)
            self.log_scale = add(
                xp.asarray([math.log(scale)], dtype=dtype, device=B.device_of(W))
            )

    # ------------------------------------------------------------------
    # Write-back
    # ------------------------------------------------------------------

    def export(self, model, ctx, dtype):
        """Set the fine-tuned weights on ``model``'s fitted encoders and
        shared RBM (copies, so that training on can not change them)."""
        xp, P = self.xp, self.params
        for tower, (_, encoder, _) in zip(self.towers, model.modalities_):
            if tower.n_layers == 0:
                continue
            encoder = split_encoder(encoder)[1]
            coefs, intercepts = encoder._network(ctx, dtype)
            coefs, intercepts = list(coefs), list(intercepts)
            for i, (w, b) in enumerate(tower.enc):
                coefs[i], intercepts[i] = P[w], P[b]
            for i, (w, b) in enumerate(tower.dec):
                coefs[tower.n_layers + i], intercepts[tower.n_layers + i] = P[w], P[b]
            # The encoder's arrays stay where they were (a Pipeline's scaler
            # may hand its network NumPy whatever the input was).
            home = encoder._first_weights
            enc_xp, device = B.get_namespace(home), B.device_of(home)
            encoder.coefs_ = [_copy_to(a, enc_xp, device) for a in coefs]
            encoder.intercepts_ = [_copy_to(a, enc_xp, device) for a in intercepts]
        rbm = model.rbm_
        rbm.components_ = xp.asarray(P[self.W], copy=True)
        rbm.intercept_hidden_ = xp.asarray(P[self.c], copy=True)
        if self.b is not None:
            rbm.intercept_visible_ = xp.asarray(P[self.b], copy=True)
        if self.log_scale is not None:
            return 1.0 / math.exp(B.scalar(P[self.log_scale][0]))
        return None

    def snapshot(self):
        return [self.xp.asarray(p, copy=True) for p in self.params]

    def bound_scale(self):
        """Clip the learned inverse temperature to ``_MAX_SCALE`` (after each
        step, as CLIP does: the gradient always flows, the value is capped)."""
        if self.log_scale is not None:
            xp, i = self.xp, self.log_scale
            cap = xp.full_like(self.params[i], math.log(_MAX_SCALE))
            self.params[i] = xp.minimum(self.params[i], cap)

    # ------------------------------------------------------------------
    # Pieces of the forward and backward passes
    # ------------------------------------------------------------------

    def _encode(self, tower, block, dropout, rng):
        """Encoding of one modality's block, with what backward needs: each
        layer's input, its activation before dropout, and the dropout mask
        (kept units scaled by 1 / (1 - dropout), None without dropout)."""
        xp, P = self.xp, self.params
        inputs, acts, masks = [], [], []
        A = block
        for w, b in tower.enc:
            inputs.append(A)
            S = B.sigmoid_(B.add_(B.matmul(A, P[w], xp), P[b], xp), xp)
            acts.append(S)
            mask = None
            if dropout > 0.0:
                keep = 1.0 - dropout
                mask = B.bernoulli_(xp.full_like(S, keep), rng, xp)
                mask = B.scale_(mask, 1.0 / keep, xp)
                A = S * mask
            else:
                A = S
            masks.append(mask)
        return A, (inputs, acts, masks)

    def _encode_backward(self, tower, cache, dA, grads):
        xp, P = self.xp, self.params
        inputs, acts, masks = cache
        for layer in range(tower.n_layers - 1, -1, -1):
            w, b = tower.enc[layer]
            S, mask = acts[layer], masks[layer]
            if mask is not None:
                dA = dA * mask
            delta = dA * S * (1.0 - S)
            _accumulate(grads, w, B.matmul(inputs[layer].T, delta, xp))
            _accumulate(grads, b, xp.sum(delta, axis=0))
            if layer > 0:
                dA = B.matmul(delta, P[w].T, xp)

    def _up(self, encodings, given):
        """Shared layer from the given modalities, the others at their fill."""
        xp, P = self.xp, self.params
        W = P[self.W]
        a = P[self.c]
        for tower in self.towers:
            e = encodings[tower.name] if tower.name in given else self.fill[tower.name]
            a = a + B.matmul(e, W[:, tower.encoding].T, xp)
        if a.ndim == 1:  # nothing given: one row for all (not used in training)
            a = xp.expand_dims(a, axis=0)
        return B.sigmoid_(a, xp)

    def _up_backward(self, encodings, given, h, dh, grads, d_encodings):
        xp, P = self.xp, self.params
        W = P[self.W]
        delta = dh * h * (1.0 - h)
        _accumulate(grads, self.c, xp.sum(delta, axis=0))
        if grads[self.W] is None:
            grads[self.W] = xp.zeros_like(W)
        gW = grads[self.W]
        for tower in self.towers:
            sl = tower.encoding
            if tower.name in given:
                e = encodings[tower.name]
                gW[:, sl] += B.matmul(delta.T, e, xp)
                d = B.matmul(delta, W[:, sl], xp)
                prev = d_encodings.get(tower.name)
                d_encodings[tower.name] = d if prev is None else prev + d
            else:
                total = xp.sum(delta, axis=0)
                gW[:, sl] += xp.expand_dims(total, axis=1) * xp.expand_dims(
                    self.fill[tower.name], axis=0
                )

    def _down(self, tower, h):
        """(v, decoder trace, reconstruction) of one modality from h."""
        xp, P = self.xp, self.params
        v = B.sigmoid_(
            B.add_(
                B.matmul(h, P[self.W][:, tower.encoding], xp),
                P[self.b][tower.encoding],
                xp,
            ),
            xp,
        )
        trace = [v]
        A = v
        for i, (w, b) in enumerate(tower.dec):
            A = B.add_(B.matmul(A, P[w], xp), P[b], xp)
            if not (i == len(tower.dec) - 1 and tower.linear_output):
                A = B.sigmoid_(A, xp)
            trace.append(A)
        return trace

    def _down_backward(self, tower, h, trace, delta, grads):
        """Back from the output pre-activation's ``delta`` to ``dh``."""
        xp, P = self.xp, self.params
        for i in range(len(tower.dec) - 1, -1, -1):
            w, b = tower.dec[i]
            _accumulate(grads, w, B.matmul(trace[i].T, delta, xp))
            _accumulate(grads, b, xp.sum(delta, axis=0))
            A = trace[i]
            delta = B.matmul(delta, P[w].T, xp) * (A * (1.0 - A))
        # delta is now d loss / d (pre-activation of v).
        sl = tower.encoding
        for index in (self.W, self.b):
            if grads[index] is None:
                grads[index] = xp.zeros_like(P[index])
        grads[self.W][:, sl] += B.matmul(h.T, delta, xp)
        grads[self.b][sl] += xp.sum(delta, axis=0)
        return B.matmul(delta, P[self.W][:, sl].T, xp)

    # ------------------------------------------------------------------
    # Objectives
    # ------------------------------------------------------------------

    def loss_and_grads(self, blocks, dropout, rng, *, need_grads=True):
        """Loss of one mini-batch (blocks: modality name -> its columns)."""
        xp = self.xp
        grads = [None] * len(self.params)
        encodings, caches = {}, {}
        for tower in self.towers:
            encodings[tower.name], caches[tower.name] = self._encode(
                tower, blocks[tower.name], dropout, rng
            )
        d_enc = {}
        if self.objective == "crossmodal":
            loss = self._crossmodal(blocks, encodings, grads, d_enc, need_grads)
        else:
            loss = self._contrastive(encodings, grads, d_enc, need_grads)
        if need_grads:
            for tower in self.towers:
                if tower.n_layers and tower.name in d_enc:
                    self._encode_backward(
                        tower, caches[tower.name], d_enc[tower.name], grads
                    )
            grads = [
                xp.zeros_like(p) if g is None else g for p, g in zip(self.params, grads)
            ]
        return loss, grads

    def _crossmodal(self, blocks, encodings, grads, d_enc, need_grads):
        xp = self.xp
        names = [t.name for t in self.towers]
        inputs = [set(names)] + [set(names) - {n} for n in names]
        total = 0.0
        for given in inputs:
            h = self._up(encodings, given)
            dh = xp.zeros_like(h)
            for tower in self.towers:
                trace = self._down(tower, h)
                out, target = trace[-1], blocks[tower.name]
                diff = out - target
                if tower.linear_output:
                    loss = 0.5 * xp.mean(diff * diff)
                else:
                    p = xp.clip(out, CE_CLIP, 1.0 - CE_CLIP)
                    loss = -xp.mean(
                        target * xp.log(p) + (1.0 - target) * xp.log(1.0 - p)
                    )
                total = total + loss / len(inputs)
                if need_grads:
                    # Linear output with squared error, logistic output with
                    # cross-entropy: d loss / d pre-activation = out - target.
                    delta = diff * (1.0 / (len(inputs) * diff.shape[0] * diff.shape[1]))
                    dh = dh + self._down_backward(tower, h, trace, delta, grads)
            if need_grads:
                self._up_backward(encodings, given, h, dh, grads, d_enc)
        return total

    def _contrastive(self, encodings, grads, d_enc, need_grads):
        xp, P = self.xp, self.params
        log_scale = P[self.log_scale]
        scale = xp.exp(log_scale)  # at most _MAX_SCALE: see bound_scale
        units, hs, norms = {}, {}, {}
        for tower in self.towers:
            h = self._up(encodings, {tower.name})
            z = 2.0 * h - 1.0
            r = xp.sqrt(xp.sum(z * z, axis=1, keepdims=True))
            r = xp.maximum(r, xp.full_like(r, 1e-12))
            hs[tower.name], norms[tower.name], units[tower.name] = h, r, z / r
        names = [t.name for t in self.towers]
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        n = next(iter(hs.values())).shape[0]
        d_units = {name: xp.zeros_like(units[name]) for name in names}
        g_scale = 0.0
        total = 0.0
        # Row i's positive is column i: the partner of the same row.
        eye = xp.eye(n, dtype=log_scale.dtype, device=B.device_of(log_scale))
        for a, b in pairs:
            S = B.matmul(units[a], units[b].T, xp)
            logits = scale * S
            rows = _log_softmax(logits, 1, xp)
            cols = _log_softmax(logits, 0, xp)
            loss = -0.5 * xp.sum((rows + cols) * eye) / n
            total = total + loss / len(pairs)
            if need_grads:
                dlogits = (xp.exp(rows) - eye + xp.exp(cols) - eye) * (
                    0.5 / (n * len(pairs))
                )
                dS = scale * dlogits
                d_units[a] = d_units[a] + B.matmul(dS, units[b], xp)
                d_units[b] = d_units[b] + B.matmul(dS.T, units[a], xp)
                g_scale = g_scale + xp.sum(dlogits * logits)
        if need_grads:
            _accumulate(grads, self.log_scale, xp.zeros_like(log_scale) + g_scale)
            for name in names:
                u, r = units[name], norms[name]
                du = d_units[name]
                dz = (du - u * xp.sum(du * u, axis=1, keepdims=True)) / r
                self._up_backward(encodings, {name}, hs[name], 2.0 * dz, grads, d_enc)
        return total


def _accumulate(grads, index, g):
    grads[index] = g if grads[index] is None else grads[index] + g


def _copy_to(a, xp, device):
    """A copy of ``a`` in namespace ``xp`` on ``device``."""
    moved = B.to_namespace(a, xp, device)
    return xp.asarray(moved, copy=True) if moved is a else moved


def _log_softmax(A, axis, xp):
    A = A - xp.max(A, axis=axis, keepdims=True)
    return A - xp.log(xp.sum(xp.exp(A), axis=axis, keepdims=True))


def _tower_rows(towers, ctx, dtype, A):
    """The towers' inputs from rows ``A`` of X, side by side."""
    A = _stream.to_compute(A, ctx, dtype)
    return ctx.xp.concat([t.block(A, ctx.xp) for t in towers], axis=1)


class _Batches:
    """Where fine-tuning's mini-batches come from: the towers' inputs of X in
    memory (``chunk_size=None``), or read chunk by chunk. Each batch is a
    dict of modality name -> its tower's input rows."""

    def __init__(self, net, model, X, ctx):
        self.xp, self.ctx, self.model = ctx.xp, ctx, model
        self.chunk_size = model.chunk_size
        xp = ctx.xp
        if self.chunk_size is None:
            self.dtype = X.dtype
            self.blocks = {t.name: t.block(X, xp) for t in net.towers}
            return
        first = _stream.to_compute(_stream.sample(X), ctx, model.dtype)
        self.dtype = first.dtype
        widths = [t.block(first, xp).shape[1] for t in net.towers]
        bounds = np.cumsum([0] + widths).tolist()
        self.slices = {
            t.name: slice(a, b) for t, a, b in zip(net.towers, bounds[:-1], bounds[1:])
        }
        self.view = _stream.Rows(
            X,
            functools.partial(_tower_rows, net.towers, ctx, model.dtype),
            bounds[-1],
            self.dtype,
        )

    def _split(self, batch):
        xp = self.xp
        # Contiguous copies, as the rows taken in memory are.
        return {
            name: xp.asarray(batch[:, sl], copy=True)
            for name, sl in self.slices.items()
        }

    def select(self, idx):
        """Keep the rows ``idx`` (sorted) only: the training or the held-out
        rows. In memory they are copied; streamed, read when needed."""
        if self.chunk_size is None:
            return {k: B.take(v, idx, self.xp) for k, v in self.blocks.items()}
        return idx

    def epoch(self, rows, bounds, rng, shuffle):
        """Batches ``bounds[i]:bounds[i + 1]`` of ``rows`` (from
        :meth:`select`), shuffled if asked."""
        xp = self.xp
        if self.chunk_size is None:
            n = next(iter(rows.values())).shape[0]
            perm = rng.permutation(n) if shuffle else np.arange(n)
            perm = B.to_namespace(perm, xp, B.device_of(next(iter(rows.values()))))
            for start, stop in zip(bounds[:-1], bounds[1:]):
                idx = perm[int(start) : int(stop)]
                yield {k: B.take(v, idx, xp) for k, v in rows.items()}
            return
        every = rows.size == self.view.shape[0]
        for batch in _stream.iter_batches(
            self.view,
            bounds,
            chunk_size=self.chunk_size,
            ctx=self.ctx,
            dtype=self.model.dtype,
            rng=rng,
            shuffle=shuffle,
            rows=None if every else rows,
        ):
            yield self._split(batch)

    def fixed(self, rows, bounds):
        """Batches ``bounds[i]:bounds[i + 1]`` of ``rows`` in order, the same
        at every call (the held-out rows' evaluation)."""
        if self.chunk_size is None:
            for start, stop in zip(bounds[:-1], bounds[1:]):
                yield {k: v[int(start) : int(stop), :] for k, v in rows.items()}
            return
        yield from self.epoch(rows, bounds, None, False)


def fine_tune(model, X, ctx, rng):
    """Fine-tune the fitted ``model`` (a SharedRBM) on ``X`` in place.

    Returns ``(loss_curve, validation_curve, temperature)``; the validation
    curve is None without early stopping, the temperature None unless the
    objective is contrastive.
    """
    xp = ctx.xp
    if model.chunk_size is None:
        dtype = X.dtype
    else:
        dtype = _stream.to_compute(_stream.sample(X), ctx, model.dtype).dtype
    net = SharedNetwork(model, ctx, dtype, model.fine_tune)
    source = _Batches(net, model, X, ctx)
    n = X.shape[0]
    order = rng.permutation(n)
    if model.early_stopping:
        n_val = max(1, int(round(model.validation_fraction * n)))
        if n_val < 2 and model.fine_tune == "contrastive":
            raise ValueError(
                f"validation_fraction={model.validation_fraction} holds out "
                f"{n_val} of {n} rows; the contrastive loss compares rows with "
                "each other and needs at least 2: raise it."
            )
        if n - n_val < 2:
            raise ValueError(
                f"validation_fraction={model.validation_fraction} leaves "
                f"{n - n_val} of {n} rows to fine-tune on; lower it."
            )
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    else:
        val_idx, train_idx = None, np.arange(n)
    train = source.select(train_idx)
    valid = None if val_idx is None else source.select(val_idx)
    n_train = len(train_idx)
    batch = min(model.fine_tune_batch_size, n_train)
    adam = Adam(net.params, model.fine_tune_learning_rate, xp)
    name = type(model).__name__
    curve, val_curve = [], ([] if valid is not None else None)
    best, best_params, stale = np.inf, None, 0
    # Whole batches only: a last batch of a few rows gives InfoNCE too
    # few negatives to be a fair step. The rows left over differ from
    # epoch to epoch when shuffling.
    n_batches = max(1, n_train // batch)
    bounds = _stream.batch_bounds(n_train, batch, n_batches)
    for epoch in range(1, model.fine_tune_n_iter + 1):
        begin = time.perf_counter()
        total = 0.0
        for mb in source.epoch(train, bounds, rng, model.shuffle):
            loss, grads = net.loss_and_grads(mb, model.fine_tune_dropout, rng)
            total = total + loss  # on the device: one transfer per epoch
            net.params = adam.step(net.params, grads)
            net.bound_scale()
        loss = B.scalar(total) / n_batches
        finite = np.isfinite(loss) and all(B.all_finite(p, xp) for p in net.params)
        if not finite:
            raise DivergenceError(
                f"{name} fine-tuning ({model.fine_tune}) diverged at epoch {epoch}: "
                f"loss {loss:.3g}. Lower fine_tune_learning_rate (now "
                f"{model.fine_tune_learning_rate})."
            )
        curve.append(loss)
        message = (
            f"[{name}] Fine-tuning epoch {epoch}/{model.fine_tune_n_iter}, "
            f"loss = {loss:.4f}"
        )
        if valid is not None:
            val_loss = _evaluate(net, source, valid, len(val_idx), batch)
            val_curve.append(val_loss)
            message += f", validation loss = {val_loss:.4f}"
            if val_loss < best:
                best, best_params, stale = val_loss, net.snapshot(), 0
            else:
                stale += 1
        if model.verbose:
            print(f"{message}, time = {time.perf_counter() - begin:.2f}s")
        if valid is not None and stale >= model.n_iter_no_change:
            if model.verbose:
                print(
                    f"[{name}] Validation loss did not improve for "
                    f"{model.n_iter_no_change} epochs: stopped; the weights "
                    f"of epoch {epoch - stale} are kept."
                )
            break
    if best_params is not None:
        net.params = best_params
    temperature = net.export(model, ctx, dtype)
    return curve, val_curve, temperature


def _evaluate(net, source, rows, n, batch):
    """Mean loss over mini-batches of the ``n`` held-out ``rows``, no
    dropout: every row, in ``n // batch`` batches of ``batch`` rows or a few
    more (the same split at every epoch)."""
    bounds = np.linspace(0, n, max(1, n // batch) + 1).round().astype(int)
    total = 0.0
    for mb in source.fixed(rows, bounds):
        loss, _ = net.loss_and_grads(mb, 0.0, None, need_grads=False)
        total = total + loss
    return B.scalar(total) / (len(bounds) - 1)
