"""Reference for the vae model (filled in by textvae)."""
COMMANDS = {}
