"""Channels that open cases without anybody writing YAML: alerts (and e-mail)."""
