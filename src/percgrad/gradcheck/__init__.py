"""Finite differences in float64 and the comparison that judges a gradient."""
