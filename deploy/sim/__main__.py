"""`python -m deploy.sim`: same as the `genpo-sim` entry point."""

from deploy.sim.cli import main

raise SystemExit(main())
