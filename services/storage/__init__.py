"""Storage service: the only one that talks to PostgreSQL."""
