"""Reading a run: read-only SQL, which files a reader may open, and the one funnel."""
