// Command imap-server is the test harness's IMAP server: go-imap's in-memory server (imapmemserver) on a
// loopback address (plain, STARTTLS or implicit TLS) with one user, authenticated by password (LOGIN,
// AUTHENTICATE PLAIN) or by an OAuth2 access token (AUTHENTICATE XOAUTH2), with IDLE and MOVE. Mail lives in
// memory only: a restart starts empty.
// It prints "listening on ADDR" once it accepts connections.
package main

import (
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:1143", "address to listen on (loopback)")
	username := flag.String("username", "support", "the one user")
	password := flag.String("password", "", "the user's password")
	token := flag.String("oauth-token", "", "OAuth2 access token accepted by AUTHENTICATE XOAUTH2 (optional)")
	folders := flag.String("folders", "INBOX", "comma-separated folders to create at start")
	tlsCert := flag.String("tls-cert", "", "PEM certificate: enables STARTTLS (or implicit TLS with -tls)")
	tlsKey := flag.String("tls-key", "", "PEM key of -tls-cert")
	implicitTLS := flag.Bool("tls", false, "implicit TLS on the listening port (like 993) instead of STARTTLS")
	debug := flag.Bool("debug", false, "print the protocol exchange")
	flag.Parse()
	if *password == "" {
		log.Fatal("-password is required")
	}

	memory := imapmemserver.New()
	user := imapmemserver.NewUser(*username, *password)
	for _, name := range strings.Split(*folders, ",") {
		if err := user.Create(strings.TrimSpace(name), nil); err != nil {
			log.Fatalf("create %s: %v", name, err)
		}
	}
	memory.AddUser(user)

	options := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			inner := memory.NewSession().(imapserver.SessionIMAP4rev2)
			return &oauthSession{SessionIMAP4rev2: inner, username: *username, password: *password, token: *token}, nil, nil
		},
		Caps: imap.CapSet{
			imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapIdle: {}, imap.CapMove: {},
			imap.CapUIDPlus: {}, imap.Cap("AUTH=PLAIN"): {}, imap.Cap("AUTH=XOAUTH2"): {},
		},
		InsecureAuth: *tlsCert == "", // loopback only: without a certificate the tests run plain text
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			log.Fatalf("TLS key pair: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if !*implicitTLS {
			options.TLSConfig = tlsConfig
		}
	}
	if *debug {
		options.DebugWriter = os.Stderr
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	if *implicitTLS {
		if tlsConfig == nil {
			log.Fatal("-tls needs -tls-cert and -tls-key")
		}
		listener = tls.NewListener(listener, tlsConfig)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	if err := imapserver.New(options).Serve(listener); err != nil {
		log.Fatalf("serve: %v", err)
	}
}

// oauthSession adds XOAUTH2 (and keeps PLAIN) in front of the in-memory session.
type oauthSession struct {
	imapserver.SessionIMAP4rev2 // the in-memory session: MOVE, NAMESPACE
	username, password, token   string
}

func (s *oauthSession) AuthenticateMechanisms() []string { return []string{"PLAIN", "XOAUTH2"} }

func (s *oauthSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, username, password string) error {
			return s.SessionIMAP4rev2.Login(username, password)
		}), nil
	case "XOAUTH2":
		return &xoauth2{check: func(username, token string) error {
			if s.token == "" || username != s.username ||
				subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
				return imapserver.ErrAuthFailed
			}
			return s.SessionIMAP4rev2.Login(s.username, s.password)
		}}, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}

// xoauth2 is the server side of Google's XOAUTH2: "user=" U ^A "auth=Bearer " T ^A ^A, in one step.
type xoauth2 struct {
	check func(username, token string) error
}

func (x *xoauth2) Next(response []byte) ([]byte, bool, error) {
	if response == nil {
		return []byte{}, false, nil
	}
	var username, token string
	for _, part := range bytes.Split(response, []byte{1}) {
		text := string(part)
		switch {
		case strings.HasPrefix(text, "user="):
			username = strings.TrimPrefix(text, "user=")
		case strings.HasPrefix(text, "auth=Bearer "):
			token = strings.TrimPrefix(text, "auth=Bearer ")
		}
	}
	if username == "" || token == "" {
		return nil, true, errors.New("malformed XOAUTH2 response")
	}
	return nil, true, x.check(username, token)
}
