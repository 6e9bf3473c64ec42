"""Quality, reasoning-density and topic classifiers: LLM labelling, training sets, fastText models."""
