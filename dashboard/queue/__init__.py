"""Queued and dispatched work entries and background jobs; cancel a queued entry."""
