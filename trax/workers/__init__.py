"""Workers: claim background jobs and run them on a pool of threads."""
