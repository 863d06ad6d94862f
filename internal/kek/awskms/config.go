package awskms

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// DefaultTimeout bounds one Wrap or Unwrap, retries included, when
// Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config names the KMS key and how to reach it. Its String, GoString and
// LogValue methods never print credentials, so a Config can be logged.
type Config struct {
	// KeyID is the symmetric KMS key: a key id, a key ARN, an alias name
	// (alias/...) or an alias ARN. It is part of ID, so keep it stable:
	// prefer an alias or the key ARN.
	KeyID string
	// Region is the AWS region of the key (required, even with an ARN).
	Region string
	// Endpoint overrides the KMS endpoint (VPC endpoints, emulators,
	// tests). It must be https, or http on a loopback address only: KMS
	// requests carry the key material.
	Endpoint string
	// Static credentials. When AccessKeyID is empty the SDK's default
	// chain is used (environment, shared files, SSO, container or
	// instance role).
	AccessKeyID, SecretAccessKey, SessionToken string
	// Timeout bounds each call, retries included (DefaultTimeout if zero).
	Timeout time.Duration
}

const redacted = "[REDACTED]"

// String describes c with its credentials redacted.
func (c Config) String() string {
	return fmt.Sprintf("awskms.Config{KeyID:%q Region:%q Endpoint:%q AccessKeyID:%q SecretAccessKey:%q SessionToken:%q Timeout:%s}",
		c.KeyID, c.Region, safeEndpoint(c.Endpoint), redact(c.AccessKeyID), redact(c.SecretAccessKey), redact(c.SessionToken), c.Timeout)
}

// GoString is String, so that %#v does not print credentials either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print c without credentials.
func (c Config) LogValue() slog.Value {
	creds := "default chain"
	if c.AccessKeyID != "" || c.SecretAccessKey != "" || c.SessionToken != "" {
		creds = "static " + redacted
	}
	return slog.GroupValue(
		slog.String("key_id", c.KeyID),
		slog.String("region", c.Region),
		slog.String("endpoint", safeEndpoint(c.Endpoint)),
		slog.String("credentials", creds),
		slog.Duration("timeout", c.Timeout),
	)
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// safeEndpoint prints an endpoint without any user information it might
// (wrongly) carry.
func safeEndpoint(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "[invalid]"
	}
	u.User = nil
	return u.String()
}

// validate checks c and fills in defaults. Its errors name fields, never
// their secret values.
func (c Config) validate() (Config, error) {
	if err := validRegion(c.Region); err != nil {
		return c, err
	}
	if err := validKeyID(c.KeyID, c.Region); err != nil {
		return c, err
	}
	if c.Endpoint != "" {
		if err := validEndpoint(c.Endpoint); err != nil {
			return c, err
		}
	}
	switch {
	case (c.AccessKeyID == "") != (c.SecretAccessKey == ""):
		return c, errors.New("awskms: static credentials need both AccessKeyID and SecretAccessKey")
	case c.SessionToken != "" && c.AccessKeyID == "":
		return c, errors.New("awskms: SessionToken needs AccessKeyID and SecretAccessKey")
	}
	if c.Timeout < 0 {
		return c, fmt.Errorf("awskms: negative Timeout %s", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

func validRegion(r string) error {
	if r == "" {
		return errors.New("awskms: Region is required")
	}
	if len(r) > 64 || strings.Trim(r, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("awskms: invalid Region %q", r)
	}
	return nil
}

func validKeyID(id, region string) error {
	if id == "" {
		return errors.New("awskms: KeyID is required")
	}
	if len(id) > 2048 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("awskms: invalid KeyID %q", id)
	}
	if !strings.HasPrefix(id, "arn:") {
		if strings.HasPrefix(id, "alias/") {
			if len(id) == len("alias/") {
				return fmt.Errorf("awskms: invalid KeyID %q: empty alias name", id)
			}
			return nil
		}
		if strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return fmt.Errorf("awskms: invalid KeyID %q: want a key id, key ARN, alias/name or alias ARN", id)
		}
		return nil
	}
	a, err := arn.Parse(id)
	if err != nil || a.Service != "kms" ||
		!(strings.HasPrefix(a.Resource, "key/") && len(a.Resource) > 4 || strings.HasPrefix(a.Resource, "alias/") && len(a.Resource) > 6) {
		return fmt.Errorf("awskms: invalid KeyID %q: not a KMS key or alias ARN", id)
	}
	if a.Region != region {
		return fmt.Errorf("awskms: KeyID %q is in region %q but Region is %q", id, a.Region, region)
	}
	return nil
}

func validEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("awskms: Endpoint is not a URL")
	}
	if u.User != nil {
		return errors.New("awskms: Endpoint must not carry user information")
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("awskms: Endpoint %q: want scheme://host[:port]", safeEndpoint(s))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return fmt.Errorf("awskms: Endpoint %q: plain http is only allowed to a loopback address (KMS requests carry key material)", safeEndpoint(s))
		}
	default:
		return fmt.Errorf("awskms: Endpoint %q: scheme must be https", safeEndpoint(s))
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
