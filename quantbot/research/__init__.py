"""Research on the live pipeline: replay over historical bars, and its summary and report."""
