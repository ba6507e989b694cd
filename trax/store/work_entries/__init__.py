"""``trax_work_queue``: work between scheduling and dispatch — new entries and their lineage,
the direct path of one-off work, and the dispatcher's turning of entries into runs. Import from
``trax.store``."""
