"""Capture: where outside-model output enters the company (gateway, hooks, imports, by hand)."""
