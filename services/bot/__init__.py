"""Bot service: the only Discord gateway connection; commands become bus requests."""
