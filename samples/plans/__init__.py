"""Workflow plans for the sample apps, and a small tool runner that drives both apps."""
