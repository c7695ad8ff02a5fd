"""A development projection upstream with a realistic sample data set (``make run``)."""
