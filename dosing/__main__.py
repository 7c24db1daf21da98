from dosing.cli import main

raise SystemExit(main())
