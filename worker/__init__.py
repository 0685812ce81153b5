"""The worker process: registers the workflows and activities on the task queue."""
