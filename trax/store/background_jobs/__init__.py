"""``trax_background_job``: the database job queue — claims that start runs, batch completions
fenced by claim tokens, and the reaper that takes expired claims back. Import from
``trax.store``."""
