from migrant_linkage.cli import main

raise SystemExit(main())
