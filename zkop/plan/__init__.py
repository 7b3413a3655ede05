"""Pure decisions: from observed state and the desired spec to what zkop does next, and the status."""
