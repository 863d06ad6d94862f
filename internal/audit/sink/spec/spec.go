// Package spec turns audit sink configuration strings (a CLI flag or an
// environment variable) into sinks, validating everything up front.
//
// A list is separated by ';' or whitespace. Each item is a URL whose
// options follow '#' (the query of a webhook URL belongs to the receiver,
// and a fragment is never sent over the wire):
//
//	file:/var/log/engram/audit.jsonl#max_bytes=104857600&keep=5&sync=always
//	syslog+udp://collector:514#facility=13&hostname=engram-1
//	syslog+tcp://collector:601
//	syslog+tls://collector:6514#ca=/etc/engram/syslog-ca.pem
//	https://siem.example.com/hook#secret_env=ENGRAM_AUDIT_WEBHOOK_SECRET&spool=/var/lib/engram/spool
//
// Webhook secrets never appear in the string: secret_env names the
// environment variable holding them (default ENGRAM_AUDIT_WEBHOOK_SECRET).
// A value "whsec_<base64>" is decoded as Standard Webhooks secrets are;
// anything else is used as raw bytes. Errors name the sink by its redacted
// URL and never echo a secret.
package spec

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/file"
	"github.com/engram-memory/engram/internal/audit/sink/rfc5424"
	"github.com/engram-memory/engram/internal/audit/sink/webhook"
)

// DefaultSecretEnv holds the webhook secret when secret_env is not given.
const DefaultSecretEnv = "ENGRAM_AUDIT_WEBHOOK_SECRET"

// Spec is one parsed sink: exactly one of the configs is set.
type Spec struct {
	File    *file.Config
	Syslog  *rfc5424.Config
	Webhook *webhook.Config
}

// Parse parses a list of sink specifications. getenv reads secrets (pass
// os.Getenv; tests inject a map).
func Parse(list string, getenv func(string) string) ([]Spec, error) {
	var out []Spec
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ';' || unicode.IsSpace(r) }) {
		s, err := ParseOne(item, getenv)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseOne parses one sink specification.
func ParseOne(item string, getenv func(string) string) (Spec, error) {
	u, err := url.Parse(item)
	if err != nil {
		// url's error quotes the input, which could hold a pasted secret.
		return Spec{}, errors.New("audit sink: unparsable sink URL")
	}
	name := redact(u)
	opts, err := url.ParseQuery(u.Fragment)
	if err != nil {
		return Spec{}, fmt.Errorf("audit sink %s: unparsable options after '#'", name)
	}
	o := options{name: name, v: opts}
	var s Spec
	switch u.Scheme {
	case "file":
		s, err = parseFile(u, &o)
	case "syslog+udp", "syslog+tcp", "syslog+tls":
		s, err = parseSyslog(u, &o)
	case "https", "http":
		s, err = parseWebhook(u, &o, getenv)
	default:
		return Spec{}, fmt.Errorf("audit sink %s: unknown scheme %q (want file, syslog+udp, syslog+tcp, syslog+tls, https)", name, u.Scheme)
	}
	if err != nil {
		return Spec{}, err
	}
	if err := o.unused(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// redact names a sink in errors: scheme, host and path only.
func redact(u *url.URL) string {
	if u.Opaque != "" {
		return u.Scheme + ":" + u.Opaque
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

func parseFile(u *url.URL, o *options) (Spec, error) {
	path := u.Path
	if u.Opaque != "" {
		path = u.Opaque
	}
	if path == "" || u.Host != "" {
		return Spec{}, fmt.Errorf("audit sink %s: want file:/absolute/path or file:relative/path", o.name)
	}
	c := file.Config{Path: path}
	var err error
	if c.MaxBytes, err = o.int64("max_bytes"); err != nil {
		return Spec{}, err
	}
	keep, err := o.int64("keep")
	if err != nil {
		return Spec{}, err
	}
	c.Keep = int(keep)
	switch v := o.get("sync"); v {
	case "", "always":
	case "never":
		c.Sync = file.SyncNever
	default:
		return Spec{}, fmt.Errorf("audit sink %s: sync=%q is not always or never", o.name, v)
	}
	return Spec{File: &c}, nil
}

func parseSyslog(u *url.URL, o *options) (Spec, error) {
	if u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return Spec{}, fmt.Errorf("audit sink %s: want %s://host:port", o.name, u.Scheme)
	}
	c := rfc5424.Config{
		Network:  strings.TrimPrefix(u.Scheme, "syslog+"),
		Addr:     u.Host,
		Facility: rfc5424.FacilityLogAudit,
		Hostname: o.get("hostname"),
		SDID:     o.get("sd_id"),
	}
	if o.has("facility") {
		f, err := o.int64("facility")
		if err != nil {
			return Spec{}, err
		}
		c.Facility = int(f)
	}
	if ca := o.get("ca"); ca != "" {
		if c.Network != "tls" {
			return Spec{}, fmt.Errorf("audit sink %s: ca applies to syslog+tls only", o.name)
		}
		pem, err := os.ReadFile(ca)
		if err != nil {
			return Spec{}, fmt.Errorf("audit sink %s: read ca: %w", o.name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return Spec{}, fmt.Errorf("audit sink %s: ca file has no PEM certificate", o.name)
		}
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	// Validate now, not at the first Send.
	if _, err := rfc5424.New(c); err != nil {
		return Spec{}, fmt.Errorf("audit sink %s: %w", o.name, err)
	}
	return Spec{Syslog: &c}, nil
}

func parseWebhook(u *url.URL, o *options, getenv func(string) string) (Spec, error) {
	if u.User != nil {
		return Spec{}, fmt.Errorf("audit sink %s: credentials in the URL are not allowed; use secret_env", o.name)
	}
	if u.Host == "" {
		return Spec{}, fmt.Errorf("audit sink %s: missing host", o.name)
	}
	envName := o.get("secret_env")
	if envName == "" {
		envName = DefaultSecretEnv
	}
	secret, err := decodeSecret(getenv(envName))
	if err != nil {
		return Spec{}, fmt.Errorf("audit sink %s: secret in $%s: %w", o.name, envName, err)
	}
	target := *u
	target.Fragment, target.RawFragment = "", ""
	c := webhook.Config{URL: target.String(), Secret: secret, SpoolDir: o.get("spool")}
	if c.SpoolDir == "" {
		return Spec{}, fmt.Errorf("audit sink %s: spool=/dir is required (undelivered events live there)", o.name)
	}
	for _, a := range strings.FieldsFunc(o.get("allow"), func(r rune) bool { return r == ',' }) {
		switch a {
		case "loopback":
			c.Policy.AllowLoopback = true
		case "private":
			c.Policy.AllowPrivate = true
		case "link-local":
			c.Policy.AllowLinkLocal = true
		case "http":
			c.AllowHTTP = true
		default:
			return Spec{}, fmt.Errorf("audit sink %s: allow=%q is not loopback, private, link-local or http", o.name, a)
		}
	}
	if u.Scheme == "http" && !c.AllowHTTP {
		return Spec{}, fmt.Errorf("audit sink %s: plain http needs allow=http", o.name)
	}
	if c.Timeout, err = o.duration("timeout"); err != nil {
		return Spec{}, err
	}
	if c.MaxBackoff, err = o.duration("max_backoff"); err != nil {
		return Spec{}, err
	}
	spoolMax, err := o.int64("spool_max")
	if err != nil {
		return Spec{}, err
	}
	c.MaxSpooled = int(spoolMax)
	if len(secret) < 16 {
		return Spec{}, fmt.Errorf("audit sink %s: secret in $%s must be at least 16 bytes", o.name, envName)
	}
	return Spec{Webhook: &c}, nil
}

func decodeSecret(v string) ([]byte, error) {
	if v == "" {
		return nil, errors.New("empty or unset")
	}
	if b64, ok := strings.CutPrefix(v, "whsec_"); ok {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, errors.New("whsec_ value is not base64") // never the value
		}
		return b, nil
	}
	return []byte(v), nil
}

// Open builds the sinks of specs. On error it closes those already built.
func Open(specs []Spec, logger *slog.Logger) ([]sink.Sink, error) {
	var out []sink.Sink
	for _, s := range specs {
		var (
			sk  sink.Sink
			err error
		)
		switch {
		case s.File != nil:
			sk, err = file.Open(*s.File)
		case s.Syslog != nil:
			sk, err = rfc5424.New(*s.Syslog)
		case s.Webhook != nil:
			c := *s.Webhook
			c.Logger = logger
			sk, err = webhook.New(c)
		default:
			err = errors.New("audit sink: empty spec")
		}
		if err != nil {
			for _, o := range out {
				_ = o.Close()
			}
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}

// options reads '#' options and reports the ones nobody asked for, so a
// typo fails at start-up instead of being ignored.
type options struct {
	name string
	v    url.Values
	used map[string]bool
}

func (o *options) get(k string) string {
	if o.used == nil {
		o.used = map[string]bool{}
	}
	o.used[k] = true
	return o.v.Get(k)
}

func (o *options) has(k string) bool { return o.v.Has(k) }

func (o *options) int64(k string) (int64, error) {
	v := o.get(k)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("audit sink %s: %s=%q is not a non-negative integer", o.name, k, v)
	}
	return n, nil
}

func (o *options) duration(k string) (time.Duration, error) {
	v := o.get(k)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("audit sink %s: %s=%q is not a positive duration", o.name, k, v)
	}
	return d, nil
}

func (o *options) unused() error {
	for k := range o.v {
		if !o.used[k] {
			return fmt.Errorf("audit sink %s: unknown option %q", o.name, k)
		}
	}
	return nil
}
