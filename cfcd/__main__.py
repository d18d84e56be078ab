"""``python -m cfcd``: the same as the ``cfcd`` command."""

from cfcd.cli import main

main()
