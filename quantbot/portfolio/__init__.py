"""Portfolio stage: netting sleeve signals into one target per symbol, allocation, limits and
the execution policy. Pure and synchronous, like the rest of the decision step."""
