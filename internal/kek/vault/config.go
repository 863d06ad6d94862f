package vault

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// DefaultMount and DefaultTimeout apply when Config leaves them empty.
const (
	DefaultMount   = "transit"
	DefaultTimeout = 10 * time.Second
)

// Config names a Transit key and how to reach it. It is validated by New.
// Printing or logging a Config never shows the token.
type Config struct {
	// Address is the Vault server's base URL, e.g. https://vault.example:8200.
	// Plain http is accepted only for a loopback host (a local Vault Agent
	// or a test server): the token must not cross a network in clear.
	Address string
	// Token authenticates every call (X-Vault-Token). It is never logged,
	// printed or put into an error.
	Token string
	// Mount is the path the Transit engine is mounted at (default
	// "transit"). It may include a namespace prefix ("ns1/transit").
	Mount string
	// Key is the Transit key's name. It must be an aes256-gcm96 key (the
	// default type): Wrap binds the wrapped key to its aad through Transit's
	// associated_data, which only the AEAD key types support.
	Key string
	// Timeout bounds each call to Vault (default 10s).
	Timeout time.Duration
}

const redacted = "[redacted]"

// String shows the configuration with the token redacted.
func (c Config) String() string {
	tok := ""
	if c.Token != "" {
		tok = redacted
	}
	return fmt.Sprintf("vault.Config{Address: %q, Token: %q, Mount: %q, Key: %q, Timeout: %s}",
		c.Address, tok, c.Mount, c.Key, c.Timeout)
}

// GoString is String, so that %#v does not print the token either.
func (c Config) GoString() string { return c.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %d, ...) print String.
func (c Config) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.String()) }

// LogValue logs the configuration with the token redacted.
func (c Config) LogValue() slog.Value {
	tok := ""
	if c.Token != "" {
		tok = redacted
	}
	return slog.GroupValue(
		slog.String("address", c.Address),
		slog.String("token", tok),
		slog.String("mount", c.Mount),
		slog.String("key", c.Key),
		slog.Duration("timeout", c.Timeout),
	)
}

// keyName is Vault's rule for transit key names (framework.GenericNameRegex).
var keyName = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// mountSegment is one segment of a mount path.
var mountSegment = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// validated is a Config after validation, with defaults applied.
type validated struct {
	addr    string // scheme://host[:port], no trailing slash
	token   string
	mount   string // no leading or trailing slash
	key     string
	timeout time.Duration
}

func (c Config) validate() (validated, error) {
	var v validated
	addr, err := validateAddress(c.Address)
	if err != nil {
		return v, err
	}
	if c.Token == "" {
		return v, errors.New("vault kek: token is required")
	}
	if strings.IndexFunc(c.Token, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		// The message must not echo the token.
		return v, errors.New("vault kek: token contains spaces or non-printable characters")
	}
	mount := strings.Trim(c.Mount, "/")
	if mount == "" {
		mount = DefaultMount
	}
	for _, seg := range strings.Split(mount, "/") {
		if !mountSegment.MatchString(seg) || seg == "." || seg == ".." {
			return v, fmt.Errorf("vault kek: invalid mount path %q", c.Mount)
		}
	}
	if !keyName.MatchString(c.Key) {
		return v, fmt.Errorf("vault kek: invalid transit key name %q (letters, digits, '_', '-' and '.', not at the ends)", c.Key)
	}
	timeout := c.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		return v, fmt.Errorf("vault kek: negative timeout %s", c.Timeout)
	}
	return validated{addr: addr, token: c.Token, mount: mount, key: c.Key, timeout: timeout}, nil
}

func validateAddress(s string) (string, error) {
	if s == "" {
		return "", errors.New("vault kek: address is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		// Not wrapped: url.Parse quotes the input, which might hold
		// credentials someone pasted into it.
		return "", errors.New("vault kek: address is not a valid URL")
	}
	if u.User != nil {
		return "", errors.New("vault kek: address must not contain credentials (use Token)")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("vault kek: address %q uses plain http to a non-loopback host: the token would cross the network in clear (use https)", s)
		}
	default:
		return "", fmt.Errorf("vault kek: address %q: scheme must be https (or http on loopback)", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("vault kek: address %q has no host", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("vault kek: address %q must be scheme://host[:port] only", s)
	}
	return u.Scheme + "://" + u.Host, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
