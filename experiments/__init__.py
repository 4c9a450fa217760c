"""Sacred experiments, one per thesis result; ``registry.toml`` maps figure ids to modules."""
