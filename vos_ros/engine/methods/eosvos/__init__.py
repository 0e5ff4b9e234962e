"""e-OSVOS: meta-learned one-shot fine-tuning with neuron-level learning rates."""
