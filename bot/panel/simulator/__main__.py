"""`python -m bot.panel.simulator --port N`: serve a simulated SMM panel."""

from bot.panel.simulator.standalone import main

raise SystemExit(main())
