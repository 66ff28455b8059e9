"""Operator tools: the `etstats` command, the local stack and the developer helpers."""
