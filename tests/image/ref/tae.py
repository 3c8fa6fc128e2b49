"""Reference for the tae model (filled in by textvae)."""
COMMANDS = {}
