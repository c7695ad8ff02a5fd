"""The WebSocket endpoint ``/ws/stream`` speaking seed 003's protocol."""
