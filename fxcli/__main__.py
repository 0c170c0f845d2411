"""`python -m fxcli` runs the fx command line."""

from fxcli.cli import main

main()
