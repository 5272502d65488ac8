"""`python -m daemon` is the same as the `aftershock` console script."""

from daemon.cli import main

main()
