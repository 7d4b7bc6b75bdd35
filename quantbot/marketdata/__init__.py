"""Market data: feeds (synthetic, CSV replay), loaders and the data contract every bar passes.

Bad data is dropped here with a reason code and never reaches sizing (DESIGN.md section 2).
"""
