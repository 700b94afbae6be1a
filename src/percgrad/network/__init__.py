"""The torch side: activations and losses, layers, nets and the three passes."""
