"""
======================================================
Fine-tuning a deep belief network as an autoencoder
======================================================

A :class:`~skmv.dbn.DBNTransformer` is first pre-trained greedily, one RBM
at a time. With ``fine_tune="autoencoder"`` the stack is then unrolled into an
encoder and a decoder and trained end to end by back-propagation of the
reconstruction error (Hinton and Salakhutdinov 2006). Here both networks
compress 8x8 digits into 16 units; fine-tuning makes the round trip through
those 16 units far more faithful. The first plot shows the fine-tuning loss
curve, ``loss_curve_``, the second a few reconstructed digits.
"""

# %%
# Data: 8x8 digits scaled to [0, 1], read as probabilities by Bernoulli
# visible units (``visible="bernoulli"``).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skmv.dbn import DBNTransformer

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)

# %%
# Two networks 64-256-64-16, with the same seed: the second is fine-tuned
# after the same pre-training (``fine_tune`` does not change ``rbms_``).
params = dict(
    hidden_layer_sizes=(256, 64, 16),
    visible="bernoulli",
    n_iter=20,
    batch_size=20,
    random_state=0,
)
pretrained = DBNTransformer(**params).fit(X_train)
finetuned = DBNTransformer(**params, fine_tune="autoencoder", fine_tune_n_iter=50)
finetuned.fit(X_train)


def round_trip(dbn, X):
    """Encode to the top layer and decode back to pixels."""
    return dbn.inverse_transform(dbn.transform(X))


for name, dbn in (("pre-trained", pretrained), ("fine-tuned", finetuned)):
    error = np.mean((round_trip(dbn, X_test) - X_test) ** 2)
    print(f"{name:11s} reconstruction error on held-out digits (MSE): {error:.4f}")

# %%
# ``loss_curve_`` holds the mean cross-entropy per pixel of each fine-tuning
# epoch. The dashed line is the same loss of the pre-trained network, where
# fine-tuning starts; the loss cannot reach 0, since grey pixels are not 0 or 1.
R = np.clip(round_trip(pretrained, X_train), 1e-7, 1 - 1e-7)
start = -np.mean(X_train * np.log(R) + (1 - X_train) * np.log(1 - R))

fig, ax = plt.subplots()
epochs = np.arange(1, finetuned.fine_tune_n_iter + 1)
ax.plot(epochs, finetuned.loss_curve_, label="fine-tuning")
ax.axhline(start, linestyle="--", color="gray", label="pre-trained network")
ax.set_xlabel("fine-tuning epoch")
ax.set_ylabel("cross-entropy per pixel (training data)")
ax.legend()
_ = ax.set_title("DBNTransformer fine-tuning loss curve")

# %%
# Held-out digits (top row) through the 16-unit code, before and after
# fine-tuning.
rows = {
    "original": X_test[:10],
    "pre-trained": round_trip(pretrained, X_test[:10]),
    "fine-tuned": round_trip(finetuned, X_test[:10]),
}
fig, axes = plt.subplots(3, 10, figsize=(8, 3))
for row, (label, images) in zip(axes, rows.items()):
    for ax, image in zip(row, images):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(label, rotation=0, ha="right", va="center")
_ = fig.suptitle("Reconstructions through a 16-unit code")
