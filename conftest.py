"""Test session settings shared by tests/ and the doctests in skmv/."""

import os

# scikit-learn's array-API estimator checks run only when SciPy was imported
# with its array-API support on; it must be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
