"""``python -m skmv``: the ``skmv`` command (see :mod:`skmv.cli`)."""

from skmv.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
