"""The dispatcher cycle's steps, in order: load queued -> load capacity -> apply limits ->
dispatch."""
