"""`python -m migrant_linkage.cli ...`, the same as the `migrant-linkage` command."""

from migrant_linkage.cli import main

raise SystemExit(main())
