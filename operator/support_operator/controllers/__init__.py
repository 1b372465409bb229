"""Controllers: I/O only. Kopf delivers watch events (handlers.py, thin) to the manager (manager.py), which
keeps the typed cache (cache.py) and hands keys to one controller per concern, each with its own queue:
case status, confirmation, contract status, access, queue order. The answers come from status/ (pure)."""
