"""Metric families and their series: the model, the registry of names, the stores."""
