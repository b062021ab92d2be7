"""The bottom layer: the toolkit's error type, atomic file writes and name checks, constraints on config
fields, optional extras, and memory guards. Imports nothing else of the toolkit."""
