"""Dead letters awaiting, retried and acknowledged; retry and acknowledge with a note."""
