"""Rules: the model, the pattern compiler, the evaluator, storage and the admin API."""
