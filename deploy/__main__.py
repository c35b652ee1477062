"""`python -m deploy`: same as the `genpo-deploy` entry point."""

from deploy.cli import main

raise SystemExit(main())
