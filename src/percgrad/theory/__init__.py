"""Mean-field theory and the rule that names a gradient's flow (NumPy only)."""
