"""
=================================================================
Fine-tuning the shared model for retrieval, on real two-view data
=================================================================

The paper's shared representation is learnt without the retrieval task in
mind: greedy pre-training of each modality's DBN, then one RBM over their
codes. On real two-view data that is not enough to beat a linear baseline.
This example measures it on a small real benchmark, the left and right
halves of scikit-learn's handwritten digits
(:func:`~skmv.datasets.load_digit_halves`): the left half of each of 500
held-out digits is a query, its own right half is the one item to find among
the 500 right halves.

Rankings compared, with the precision at N of each:

* regularised CCA of the two halves (10 components, cosine);
* the paper's recipe, pre-trained only: a DBN per half and a shared RBM,
  compared in the shared space or by the reconstruction of the right half
  (the paper's input space);
* an MLP regressing the right half from the left, ranked by cosine;
* a contrastive two-tower model: skmv's network trained by
  ``fine_tune="contrastive"`` from random weights, without pre-training;
* skmv's fine-tuned shared models: ``fine_tune="crossmodal"`` (each half
  reconstructed from the other, a bimodal deep autoencoder) compared by
  reconstruction, and ``fine_tune="contrastive"`` (the representations of
  the two halves of a digit made close, in cosine, to each other and far
  from the other digits of a mini-batch) compared in the shared space.
"""

# %%
# The data: 1,297 training pairs, 500 test pairs, each half standardised.
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import cosine_distances
from sklearn.neural_network import MLPRegressor

from skmv.baselines import CCARetriever
from skmv.datasets import load_digit_halves
from skmv.dbn import DBNTransformer
from skmv.metrics import PrecisionAtNDisplay, retrieval_ranks
from skmv.retrieval import CrossModalRetriever
from skmv.shared import SharedRBM

data = load_digit_halves()
X_train, X_test = data.X_train, data.X_test
left, right = data.modalities[0][1], data.modalities[1][1]

# The test suite runs every example in a quick mode: shorter schedules.
QUICK = os.environ.get("SKMV_EXAMPLES_QUICK") == "1"
EPOCHS = 10 if QUICK else 100  # pre-training, every RBM
FINE_TUNE_EPOCHS = 30 if QUICK else 100  # skmv's default

# %%
# The models. Every shared model has the same network: a one-layer DBN of
# 256 units per half and a shared RBM of 256 units, pre-trained by CD-1.
# Fine-tuning runs with skmv's defaults: Adam (step 3e-3) on mini-batches of
# 128 pairs, dropout 0.2 on the encoders, 100 epochs.


def shared_model(pre_training=EPOCHS, **fine_tuning):
    return SharedRBM(
        [
            (name, DBNTransformer(256, n_iter=pre_training), columns)
            for name, columns in data.modalities
        ],
        n_components=256,
        n_iter=pre_training,
        fine_tune_n_iter=FINE_TUNE_EPOCHS,
        random_state=0,
        **fine_tuning,
    )


retrievers = {
    "CCA, 10 components": CCARetriever(
        "left",
        "right",
        modalities=[(name, "passthrough", cols) for name, cols in data.modalities],
        n_components=10,
        reg=1e-3,
        metric="cosine",
    ),
    "pre-trained, input space (the paper's)": CrossModalRetriever(
        shared_model(), "left", "right", space="input"
    ),
    "pre-trained, shared space": CrossModalRetriever(
        shared_model(), "left", "right", space="shared"
    ),
    "contrastive two-tower, no pre-training": CrossModalRetriever(
        shared_model(pre_training=0, fine_tune="contrastive"),
        "left",
        "right",
        space="shared",
    ),
    "skmv fine-tuned, crossmodal": CrossModalRetriever(
        shared_model(fine_tune="crossmodal"),
        "left",
        "right",
        space="input",
        metric="cosine",
    ),
    "skmv fine-tuned, contrastive": CrossModalRetriever(
        shared_model(fine_tune="contrastive"), "left", "right", space="shared"
    ),
}

# %%
# Precision at N on the 500 test pairs. The MLP is not a retriever: its
# predictions of the right halves are ranked by hand.
fig, ax = plt.subplots(figsize=(6.5, 4.8))
mlp = MLPRegressor(
    hidden_layer_sizes=(512, 256), max_iter=30 if QUICK else 200, random_state=0
)
with warnings.catch_warnings():  # a fixed budget of epochs, as for the others
    warnings.simplefilter("ignore", ConvergenceWarning)
    mlp.fit(X_train[:, left], X_train[:, right])
distances = cosine_distances(mlp.predict(X_test[:, left]), X_test[:, right])
display = PrecisionAtNDisplay.from_ranks(
    retrieval_ranks(distances),
    n_database=len(X_test),
    max_n=50,
    name="MLP regression",
    ax=ax,
)
results = {"MLP regression": display.precision}
for name, retriever in retrievers.items():
    retriever.fit(X_train)
    display = PrecisionAtNDisplay.from_estimator(
        retriever, X_test, max_n=50, name=name, ax=ax
    )
    results[name] = display.precision
results["random"] = np.arange(1, 51) / len(X_test)
for name, p in results.items():
    print(f"{name:<40s} P@1 {p[0]:.3f}  P@10 {p[9]:.3f}  P@50 {p[49]:.3f}")
ax.set_title("Right half of a digit from its left half (500 candidates)")
_ = ax.legend(loc="lower right", fontsize="small")

# %%
# Contrastive fine-tuning is what makes the shared model retrieve: 0.70 at
# N = 10 against 0.19 for the same network pre-trained only, and well above
# CCA (0.37) and the MLP (0.54). The same network trained contrastively from
# random weights does as well (0.69): on this benchmark the training
# objective does the work, and pre-training adds nothing measurable.
# Reconstruction-based fine-tuning ("crossmodal") more than triples the
# paper's input-space ranking (0.51 against 0.15) but does not reach the
# contrastive model, which is trained on the ranking task itself. The
# fine-tuning loss falls epoch over epoch:
contrastive = retrievers["skmv fine-tuned, contrastive"].model_
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(
    np.arange(1, len(contrastive.fine_tune_loss_curve_) + 1),
    contrastive.fine_tune_loss_curve_,
)
ax.set_xlabel("epoch")
ax.set_ylabel("InfoNCE loss")
_ = ax.set_title(
    f"Contrastive fine-tuning (temperature {contrastive.temperature_:.3f})"
)
