"""`python -m paperroute.cli`."""

from paperroute.cli import main

main()
