"""Runtime: execute tool cards safely."""
