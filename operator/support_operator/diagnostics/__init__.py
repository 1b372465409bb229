"""Evidence at intake: a redacted diagnostic snapshot of a case's namespaces and the findings in it.

collect.py reads the API (I/O); redact.py, snapshot.py and analyze.py are pure functions over plain dicts;
worker.py takes the snapshot once per case in its own queue; bundle.py builds `kubectl support gather`.
"""
