"""Risk state: halt reason and kill switch (persisted in state/), later governor and ledgers."""
