"""Runtime plumbing shared by every etstats service."""
