package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/mailer"
)

// mailFlags configure the mail server that delivers invitations and
// password reset links. Without --smtp-addr nothing is mailed: an
// invitation answers with its accept_url for the inviter to pass on, and
// no reset link is sent (an admin re-invites instead).
type mailFlags struct {
	SMTPAddr         string `name:"smtp-addr" env:"ENGRAM_SMTP_ADDR" help:"Mail server host:port for invitations and password resets."`
	SMTPFrom         string `name:"smtp-from" env:"ENGRAM_SMTP_FROM" help:"Sender address of account emails (required with --smtp-addr)."`
	SMTPUser         string `name:"smtp-user" env:"ENGRAM_SMTP_USER" help:"SMTP user name; the password comes from --smtp-password-file and is only ever sent over TLS."`
	SMTPPasswordFile string `name:"smtp-password-file" type:"path" help:"File holding the SMTP password."`
	SMTPTLS          string `name:"smtp-tls" enum:"starttls,tls,opportunistic" default:"starttls" help:"starttls (required), tls (implicit, port 465) or opportunistic (upgrade when offered)."`
}

func (f *mailFlags) identity(publicURL string) (engine.Option, error) {
	o := engine.IdentityOptions{PublicURL: publicURL}
	if f.SMTPAddr == "" {
		return engine.WithIdentity(o), nil
	}
	if f.SMTPFrom == "" {
		return nil, fmt.Errorf("--smtp-from is required with --smtp-addr")
	}
	m := &mailer.SMTP{Addr: f.SMTPAddr, From: f.SMTPFrom, Username: f.SMTPUser}
	switch f.SMTPTLS {
	case "starttls":
		m.TLS = mailer.STARTTLSRequired
	case "tls":
		m.TLS = mailer.ImplicitTLS
	default:
		m.TLS = mailer.STARTTLSOpportunistic
	}
	if f.SMTPPasswordFile != "" {
		b, err := os.ReadFile(f.SMTPPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("read --smtp-password-file: %w", err)
		}
		m.Password = strings.TrimSpace(string(b))
	}
	o.Mailer = m
	return engine.WithIdentity(o), nil
}
