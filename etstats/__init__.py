"""etstats: ET:Legacy round stats from game servers to PostgreSQL and Discord."""
