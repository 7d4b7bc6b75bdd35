"""The command line, one module per command group; logging is configured here once."""
