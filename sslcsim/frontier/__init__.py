"""`sslcsim frontier`: accuracy against cycles for a set of compressions (spec, store, runner)."""
