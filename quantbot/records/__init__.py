"""What the daemon reports: the run manifest and the JSONL decision records."""
