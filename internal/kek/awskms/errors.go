package awskms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/engram-memory/engram/internal/kek"
)

// Error is a Wrap or Unwrap that KMS refused or that never got an answer.
// errors.Is matches kek.ErrUnwrap (the ciphertext does not open under this
// key and aad) or kek.ErrUnavailable (everything else), and
// context.Canceled or context.DeadlineExceeded when the caller's own
// context ended. Its text names the operation, key, region and AWS error
// code; it never holds credentials, and AWS's message is cut to its first
// line (AWS appends the canonical request, session token included, to
// signature errors).
type Error struct {
	Op        string // "Encrypt" or "Decrypt"
	KeyID     string
	Region    string
	Code      string // AWS error code, e.g. "AccessDeniedException"; empty when no answer arrived
	RequestID string // AWS request id, when KMS answered
	Reason    string // what went wrong, one line, without credentials

	kind  error // kek.ErrUnwrap or kek.ErrUnavailable
	cause error // the caller's context error, if that is why it failed
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "awskms: %s with key %s in %s: ", e.Op, e.KeyID, e.Region)
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", e.RequestID)
	}
	b.WriteString(": ")
	b.WriteString(e.kind.Error())
	return b.String()
}

// Unwrap exposes the kek sentinel and, when the caller's context ended,
// its error. The SDK's own error is deliberately not exposed: its text is
// not vetted.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// What each AWS error code means for an operator, and which ones say the
// ciphertext is at fault rather than the provider.
var (
	unwrapCodes = map[string]string{
		"InvalidCiphertextException": "the wrapped key does not open under this key and aad (wrong aad, tampered or not from KMS)",
		"IncorrectKeyException":      "the wrapped key was made under a different KMS key",
	}
	reasons = map[string]string{
		"AccessDeniedException":               "access denied: check the key policy and the IAM permissions of these credentials",
		"UnrecognizedClientException":         "credentials not recognised",
		"InvalidSignatureException":           "request signature rejected: check the secret access key and the clock",
		"IncompleteSignatureException":        "request signature rejected",
		"MissingAuthenticationTokenException": "no credentials sent",
		"ExpiredTokenException":               "credentials expired",
		"InvalidClientTokenId":                "credentials not recognised",
		"DisabledException":                   "the key is disabled",
		"KMSInvalidStateException":            "the key is not usable in its current state (pending deletion, pending import or unavailable)",
		"NotFoundException":                   "the key does not exist in this account and region",
		"InvalidKeyUsageException":            "the key is not a symmetric ENCRYPT_DECRYPT key",
		"ThrottlingException":                 "throttled by KMS",
		"LimitExceededException":              "KMS request quota exceeded",
		"KeyUnavailableException":             "the key material is unavailable",
		"DependencyTimeoutException":          "KMS timed out",
		"KMSInternalException":                "KMS internal error",
	}
)

// fail turns an SDK error into an *Error. parent is the caller's context,
// call the one bounded by the timeout.
func (k *KEK) fail(op string, parent, call context.Context, err error) error {
	e := &Error{Op: op, KeyID: k.keyID, Region: k.region, kind: kek.ErrUnavailable}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.RequestID = re.ServiceRequestID()
	}
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		e.Code = ae.ErrorCode()
		msg := clean(ae.ErrorMessage(), k.secrets)
		if r, ok := unwrapCodes[e.Code]; ok {
			e.kind, e.Reason = kek.ErrUnwrap, r
			break
		}
		r, ok := reasons[e.Code]
		if !ok {
			r = "KMS refused the call"
		}
		e.Reason = r
		if msg != "" {
			e.Reason += ": " + msg
		}
	case parent.Err() != nil:
		e.cause = parent.Err()
		e.Reason = "the caller's context ended: " + parent.Err().Error()
	case call.Err() != nil:
		e.Reason = fmt.Sprintf("no answer within %s", k.timeout)
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			// The url.Error's own text repeats the endpoint; its cause is
			// the network error (refused, reset, DNS, TLS).
			e.Reason = "cannot reach " + k.endpointName() + ": " + clean(ue.Err.Error(), k.secrets)
		} else {
			e.Reason = "request failed: " + clean(err.Error(), k.secrets)
		}
	}
	return e
}

func (k *KEK) endpointName() string {
	if k.endpoint != "" {
		return safeEndpoint(k.endpoint)
	}
	return "KMS"
}

// Shapes of AWS credentials, removed from any text we pass on even when
// they are not ours (default chain credentials are never seen here):
// access key ids, and long base64 runs (secret keys are 40 characters,
// session tokens hundreds).
var (
	accessKeyShape = regexp.MustCompile(`\b(AKIA|ASIA|AROA|AIDA|ABIA|ACCA)[A-Z0-9]{12,}`)
	secretShape    = regexp.MustCompile(`[A-Za-z0-9/+=]{40,}`)
)

// clean keeps the first line of an AWS or network message, without
// credentials, at most 300 bytes.
func clean(msg string, secrets []string) string {
	msg, _, _ = strings.Cut(msg, "\n")
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	msg = accessKeyShape.ReplaceAllString(msg, redacted)
	msg = secretShape.ReplaceAllString(msg, redacted)
	msg = strings.TrimSpace(msg)
	if len(msg) > 300 {
		msg = strings.ToValidUTF8(msg[:300], "") + "…"
	}
	return msg
}
