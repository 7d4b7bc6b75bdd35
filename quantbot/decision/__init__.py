"""The pure decision step and its risk stages, in order; the record's one author."""
