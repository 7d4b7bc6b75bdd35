"""Governance beside the decision path: what the run's own outcomes say about its sleeves and
symbols (``outcomes``), and what follows from them (``quarantine``)."""
