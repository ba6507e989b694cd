"""Schedules (manifests): when they run, how they fared, their dependency graph; trigger,
enable, disable, edit."""
