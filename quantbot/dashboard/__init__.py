"""The live local dashboard of a running daemon (`quantbot run --dashboard`): read-only,
127.0.0.1 only, behind a per-run token. See the README's "Dashboard" section."""
