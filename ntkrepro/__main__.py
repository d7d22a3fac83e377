from ntkrepro.cli import main

raise SystemExit(main())
