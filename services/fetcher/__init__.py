"""Fetcher service: watches sources and puts new stats files on the bus."""
