"""The web app (``repsense serve``): the page, the live WebSocket and the HTTP API."""
