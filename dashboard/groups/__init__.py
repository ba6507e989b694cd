"""Manifest groups: members, limits, active counts; edit, trigger all, cancel all running."""
