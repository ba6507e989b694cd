"""Workers and schedulers: leader, heartbeat age, concurrency, runs in flight."""
