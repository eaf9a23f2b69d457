"""One module per pipeline stage: ``HELP``, ``add_arguments(parser)``, ``run(args, params)``."""
