"""Grounding: from passages (and a draft) to an answer every sentence of which a passage backs, or a refusal."""
