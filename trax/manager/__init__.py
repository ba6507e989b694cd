"""The manifest manager: one cycle of small named steps that decide what should run."""
