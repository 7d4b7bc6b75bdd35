"""The configuration: the frozen schema, the loader (file:line errors), its sections."""
