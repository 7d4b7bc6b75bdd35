"""Alpaca (US equities) through alpaca-py. Imported lazily by the venue factory: the default
(embedded paper venue) path never loads the SDK."""
