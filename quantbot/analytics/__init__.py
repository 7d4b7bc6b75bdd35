"""Analytics over the daemon's records: transaction costs per order and the execution report."""
