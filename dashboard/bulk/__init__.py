"""Actions on every object a page's filter matches ("all matching"), run in bounded batches in
the background with progress shown live; each one is a single audit record with its count."""
