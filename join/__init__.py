"""The phones' page, /join (routes.py), beside the dashboard."""
