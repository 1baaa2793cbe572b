from ac_eval.cli import console_main

raise SystemExit(console_main())
