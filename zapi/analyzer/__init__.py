"""The analyzer: HAR entries in, operations with evidence out (pure, no I/O)."""
