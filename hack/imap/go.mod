// The test harness's IMAP server (main.go): go-imap's in-memory server with IDLE, MOVE and XOAUTH2.
// hack/build-tools.sh imap-server builds it into the cache outside the clone.
module github.com/puzzle/support-operator/hack/imap

go 1.26

require (
	github.com/emersion/go-imap/v2 v2.0.0-beta.8
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6
)

require github.com/emersion/go-message v0.18.2 // indirect
