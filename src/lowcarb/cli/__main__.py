"""``python -m lowcarb.cli``."""

from lowcarb.cli import main

raise SystemExit(main())
