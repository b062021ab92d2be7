"""Two-layer networks: the model, its neuron features, and exact full-batch training."""
