from ac_eval.cli import main

raise SystemExit(main())
