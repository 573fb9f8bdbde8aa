from panamia.cli import main

raise SystemExit(main())
