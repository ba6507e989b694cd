"""Live updates: one listener per ASGI process tells the process's open dashboard sockets what
changed, so pages refresh only then."""
