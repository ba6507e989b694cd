"""Schedules, declarations, the runtime scheduler API and one-off runs."""
