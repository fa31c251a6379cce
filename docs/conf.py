"""Sphinx configuration for skmv's documentation.

Build with ``pip install -e ".[docs]"`` then ``make -C docs html``; set
``SKMV_DOCS_OFFLINE=1`` where the intersphinx inventories cannot be fetched.
"""

import os

import skmv

project = "skmv"
author = "skmv developers"
release = skmv.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
numpydoc_show_class_members = False
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb"]
html_theme = "pydata_sphinx_theme"

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "cupy": ("https://docs.cupy.dev/en/stable", None),
    "optuna": ("https://optuna.readthedocs.io/en/stable", None),
}

if os.environ.get("SKMV_DOCS_OFFLINE"):
    intersphinx_mapping = {}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skmv",),
    "reference_url": {"skmv": None},
}
