"""``python -m lowcarb``: the same as the ``lowcarb`` command."""

from lowcarb.cli import main

raise SystemExit(main())
