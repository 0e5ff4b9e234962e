"""Training of the learned parts (`vos-ros train`): data, losses, loops, records."""
