"""E-mail intake: mails in an IMAP folder become SupportCases or join a case's conversation.

`mail` parses a message, `rules` holds the pure decisions (allowed senders, RFC 3834 loop protection, rate
limit, category and impact, the case name), `threads` finds the case a reply belongs to, `plan` combines them
into one decision per mail. `imap` speaks IMAP (imaplib); `watcher` runs one mailbox per contract.
"""
