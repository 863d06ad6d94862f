package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of every delivery, as in the Standard Webhooks specification
// (standardwebhooks.com), so its receiver libraries verify Engram's
// deliveries unchanged.
const (
	HeaderID        = "Webhook-Id"        // the event id, "<tenant>:<seq>"; stable across retries
	HeaderTimestamp = "Webhook-Timestamp" // Unix seconds when this attempt was signed
	HeaderSignature = "Webhook-Signature" // "v1,<base64 HMAC-SHA256>"
	// HeaderIdempotency repeats the event id for receivers that deduplicate
	// on the conventional header.
	HeaderIdempotency = "Idempotency-Key"
)

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock before Verify rejects it as a replay.
const DefaultTolerance = 5 * time.Minute

// ErrSignature is wrapped by every Verify failure.
var ErrSignature = errors.New("webhook signature invalid")

// Sign returns the Webhook-Signature value for one delivery:
//
//	"v1," + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body))
//
// with timestamp in decimal Unix seconds. The id and timestamp are signed
// with the body so that neither can be swapped onto another delivery.
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, id, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify is what a receiver runs on each delivery, before parsing the body:
// it recomputes the signature over the raw body and the id and timestamp
// headers, compares it in constant time with each "v1," signature in the
// header (a space-separated list, so senders can rotate secrets), and
// rejects timestamps further than tolerance from now (replay protection;
// 0 means DefaultTolerance). It returns nil or an error wrapping
// ErrSignature.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id, tsStr, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsStr == "" || sigs == "" {
		return fmt.Errorf("%w: missing %s, %s or %s header", ErrSignature, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed timestamp", ErrSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside the %s tolerance", ErrSignature, tolerance)
	}
	want := mac(secret, id, tsStr, body)
	for _, s := range strings.Fields(sigs) {
		v, ok := strings.CutPrefix(s, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(v)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no matching v1 signature", ErrSignature)
}
