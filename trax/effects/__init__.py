"""The run lifecycle: metadata, effect providers, hooks, progress, host, log capture."""
