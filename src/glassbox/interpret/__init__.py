"""Analyses of what a trained model learned: weights, focus, pathways and attributions."""
