"""``trax_metadata``: run records — creation, the guarded start and finish, cancels, progress,
the stale-run failures and the housekeeping trains' failure records. Import from
``trax.store``."""
