"""The coordinator's alert pages (blueprint alerts): the list, the start form, the dashboard
and its actions."""
