"""The dispatcher: queued work entries become runs handed to a job submitter."""
