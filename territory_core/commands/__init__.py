"""Command-line jobs. Each module here defines ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int`` (0 ok, 1 the data or problem is bad, 2 bad usage), and is listed in
``COMMANDS``."""

COMMANDS = ("validate", "solve", "export", "benchmark", "data", "design", "route", "serve")
