"""Bot commands, one cog per feature."""
