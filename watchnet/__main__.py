"""`python -m watchnet …` is the `watchnet` command (the demo starts its helpers this way)."""

from watchnet.cli import main

main()
