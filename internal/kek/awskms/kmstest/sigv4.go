package kmstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signature Version 4, checked the way AWS checks it: rebuild the
// canonical request from the headers the client says it signed, derive
// the signing key from the secret of the access key it names, compare.

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateForm  = "20060102T150405Z"
	maxSkew      = 5 * time.Minute
)

var errBadToken = errorf("UnrecognizedClientException", "The security token included in the request is invalid.")

func (s *Server) authenticate(r *http.Request, body []byte) (*user, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, errorf("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	rest, ok := strings.CutPrefix(auth, sigAlgorithm+" ")
	if !ok {
		return nil, errorf("IncompleteSignatureException", "Unsupported AWS 'algorithm': only %s is supported", sigAlgorithm)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return nil, errorf("IncompleteSignatureException", "Authorization header parameter %q is not key=value", k)
		}
		params[k] = v
	}
	credential, signedList, signature := params["Credential"], params["SignedHeaders"], params["Signature"]
	if credential == "" || signedList == "" || signature == "" {
		return nil, errorf("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	scopeParts := strings.Split(credential, "/")
	if len(scopeParts) != 5 {
		return nil, errorf("IncompleteSignatureException", "Credential must be <access key>/<date>/<region>/<service>/aws4_request")
	}
	akid, date, region, service, term := scopeParts[0], scopeParts[1], scopeParts[2], scopeParts[3], scopeParts[4]

	s.mu.Lock()
	u := s.users[akid]
	var secret string
	if u != nil {
		secret = u.secret
	}
	s.mu.Unlock()
	if u == nil {
		return nil, errBadToken
	}
	if r.Header.Get("X-Amz-Security-Token") != u.token {
		return nil, errBadToken
	}
	switch {
	case region != s.Region:
		return nil, errorf("InvalidSignatureException", "Credential should be scoped to a valid region.")
	case service != "kms":
		return nil, errorf("InvalidSignatureException", "Credential should be scoped to correct service: 'kms'.")
	case term != "aws4_request":
		return nil, errorf("InvalidSignatureException", "Credential should be scoped with a valid terminator: 'aws4_request'.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateForm, amzDate)
	if err != nil {
		return nil, errorf("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if date != amzDate[:8] {
		return nil, errorf("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'", date, amzDate[:8])
	}
	if now := s.now(); t.Before(now.Add(-maxSkew)) || t.After(now.Add(maxSkew)) {
		return nil, errorf("InvalidSignatureException", "Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.Add(-maxSkew).UTC().Format(amzDateForm), now.UTC().Format(amzDateForm))
	}
	signed := strings.Split(signedList, ";")
	if !slices.IsSorted(signed) || slices.ContainsFunc(signed, func(h string) bool { return h == "" || h != strings.ToLower(h) }) {
		return nil, errorf("InvalidSignatureException", "SignedHeaders must be lower case and sorted")
	}
	// The headers that say who and what: a request whose operation or
	// token could be swapped without breaking the signature is refused.
	for _, must := range []string{"host", "x-amz-date", "x-amz-target"} {
		if !slices.Contains(signed, must) {
			return nil, errorf("InvalidSignatureException", "'%s' must be a 'SignedHeader' in the AWS Authorization.", must)
		}
	}
	if u.token != "" && !slices.Contains(signed, "x-amz-security-token") {
		return nil, errorf("InvalidSignatureException", "'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization.")
	}

	canonical := canonicalRequest(r, signed, signedList, body)
	scope := date + "/" + region + "/" + service + "/" + term
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canonical))
	key := hmacSHA256([]byte("AWS4"+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, term)
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		// AWS's own text, canonical request included (it shows the
		// session token: clients must not pass this message on).
		return nil, errorf("InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n",
			canonical, toSign)
	}
	return u, nil
}

func canonicalRequest(r *http.Request, signed []string, signedList string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path + "\n")
	b.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, name := range signed {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = r.Header.Values("Content-Length")
			if len(values) == 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			values = r.Header.Values(name)
		}
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(values, ",") + "\n")
	}
	b.WriteString("\n" + signedList + "\n")
	b.WriteString(hexSHA256(body))
	return b.String()
}

func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, awsEscape(k)+"="+awsEscape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// awsEscape percent-encodes everything but A-Z a-z 0-9 - _ . ~.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
