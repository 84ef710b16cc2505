"""Voice history: what Sotto keeps (only as the user allows), and how it is purged."""
