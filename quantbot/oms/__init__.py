"""Order management: client ids, the journal, the ledger rebuilt from it, submit outcomes."""
