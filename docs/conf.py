"""Sphinx configuration for skmv's documentation.

Build with ``pip install -e ".[docs]"`` then ``make -C docs html``. Links
to other projects' documentation (intersphinx) use the inventories that can
be fetched; one that cannot is left out with a note, not a warning, so that
the build is clean offline too. ``SKMV_DOCS_OFFLINE=1`` leaves all out
without trying.
"""

import os
import urllib.request

import sphinx_gallery

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


def _reachable(url, timeout=3.0):
    try:
        with urllib.request.urlopen(f"{url}/objects.inv", timeout=timeout):
            return True
    except Exception:  # no network, a proxy's refusal, a cut-off answer
        return False


if os.environ.get("SKMV_DOCS_OFFLINE"):
    intersphinx_mapping = {}
else:
    for _name, (_url, _) in list(intersphinx_mapping.items()):
        if not _reachable(_url):
            print(f"skmv docs: {_url} cannot be reached; no links to {_name}.")
            del intersphinx_mapping[_name]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skmv",),
}
if tuple(map(int, sphinx_gallery.__version__.split(".")[:2])) < (0, 22):
    # Links from the examples' code to skmv's API pages; later releases find
    # them by themselves and warn about the option.
    sphinx_gallery_conf["reference_url"] = {"skmv": None}
