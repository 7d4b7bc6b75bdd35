"""The daemon: composition root and supervision, the wiring of its sides, the batch
pipeline, the operator loop, the TradeIntent intake, status and manifest."""
