"""Channels that open cases without anybody writing YAML: e-mail and alerts.

E-mail: mails in an IMAP folder become SupportCases or join a case's conversation. `mail` parses a message,
`rules` holds the pure decisions (allowed senders, RFC 3834 loop protection, rate limit, category and
impact, the case name), `threads` finds the case a reply belongs to, `plan` combines them into one decision
per mail. `imap` speaks IMAP (imaplib); `watcher` runs one mailbox per contract.

Alerts: `alerts` plans the cases an Alertmanager webhook notification opens (pure), `receiver` serves the
webhook and carries the plan out.
"""
