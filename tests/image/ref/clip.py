"""Reference for the clip model (filled in by textvae)."""
COMMANDS = {}
