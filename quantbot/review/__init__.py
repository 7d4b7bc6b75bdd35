"""`quantbot review`: the weekly operating rhythm on one page (what broke, what was denied,
what drifted, and the go-live state), read from ``state/`` and ``runtime/`` alone, so it
works with the daemon running or stopped."""
