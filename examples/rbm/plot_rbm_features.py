"""
============================================
RBM features for a linear classifier
============================================

A :class:`~skmv.rbm.BernoulliRBM` learns binary features of hand-written
digits without their labels; a logistic regression on those features beats
the same regression on the raw pixels. The second plot shows the learning
curve that every skmv RBM records, ``reconstruction_error_curve_``.
"""

# %%
# Data: 8x8 digits scaled to [0, 1], so that pixels read as probabilities.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skmv.rbm import BernoulliRBM

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

# %%
# Features learned by the RBM, then a linear classifier.
rbm = BernoulliRBM(
    n_components=100, learning_rate=0.06, batch_size=10, n_iter=20, random_state=0
)
model = make_pipeline(rbm, LogisticRegression(C=100, max_iter=2000))
model.fit(X_train, y_train)
raw = LogisticRegression(C=100, max_iter=2000).fit(X_train, y_train)
print(f"RBM features + logistic regression: {model.score(X_test, y_test):.3f}")
print(f"raw pixels   + logistic regression: {raw.score(X_test, y_test):.3f}")

# %%
# What the hidden units look for, and how training went.
fig, axes = plt.subplots(4, 8, figsize=(8, 4.5))
for unit, ax in zip(rbm.components_, axes.ravel()):
    ax.imshow(unit.reshape(8, 8), cmap="gray_r")
    ax.set_axis_off()
_ = fig.suptitle("32 of the 100 RBM components")

fig, ax = plt.subplots()
ax.plot(np.arange(1, rbm.n_iter + 1), rbm.reconstruction_error_curve_, marker="o")
ax.set_xlabel("epoch")
ax.set_ylabel("reconstruction error (MSE)")
_ = ax.set_title("BernoulliRBM learning curve")
