"""GET /metrics: the service's own metrics and the pushed series, text or OpenMetrics."""
