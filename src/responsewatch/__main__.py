"""``python -m responsewatch``: the same command line as the console script."""

from responsewatch.cli import main

main()
