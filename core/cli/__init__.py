"""The command-line kit of the management commands: exit codes, argument types, a progress bar."""
