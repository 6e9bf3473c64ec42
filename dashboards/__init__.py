"""Placeholder package: filled by a later stage (see README)."""
