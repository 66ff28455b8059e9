"""Players read back: who a typed name means, and their numbers over a period (pure)."""
