// Package rfc5424 is the syslog audit sink: RFC 5424 messages over UDP
// (RFC 5426), TCP with octet-counting framing (RFC 6587 §3.4.1) or TLS
// (RFC 5425, the same framing).
//
// The formatter is written here rather than imported: the standard
// library's log/syslog speaks RFC 3164 and is not built on Windows, and the
// RFC 5424 libraries found were archived or pull in a full parser for a
// 40-line encoder.
//
// A message looks like (one line, MSG shortened):
//
//	<109>1 2026-11-30T20:31:07.123456Z host engram 4242 audit [engram@32473 tenant="acme" seq="17"] \xEF\xBB\xBF{"id":"acme:17",...}
//
// PRI is facility*8 + severity (severity Notice; facility 13, "log audit",
// unless configured). The SD-ID engram@32473 uses the enterprise number
// RFC 5612 reserves for documentation; set Config.SDID to a registered one.
// MSG is the event envelope in UTF-8 and so starts with a BOM (§6.4).
package rfc5424

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/engram-memory/engram/internal/audit/sink"
)

// Severity of every audit message: Notice, "normal but significant".
const severityNotice = 5

// FacilityLogAudit is facility 13, "log audit", the default.
const FacilityLogAudit = 13

// DefaultSDID names the structured-data element carrying tenant and seq.
const DefaultSDID = "engram@32473"

// bom starts an MSG encoded as UTF-8 (RFC 5424 §6.4).
const bom = "\xEF\xBB\xBF"

// header holds the per-sink fields of every message.
type header struct {
	facility int
	hostname string
	appName  string
	procID   string
	sdID     string
}

// format renders one RFC 5424 message (without transport framing).
func (h header) format(ev sink.Event) ([]byte, error) {
	msg, err := ev.Envelope()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.Grow(len(msg) + 160)
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(h.facility*8 + severityNotice))
	b.WriteString(">1 ")
	// TIME-SECFRAC allows at most 6 digits; UTC prints as "Z".
	b.WriteString(ev.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	for _, f := range []string{h.hostname, h.appName, h.procID, "audit"} {
		b.WriteByte(' ')
		b.WriteString(f)
	}
	b.WriteString(" [")
	b.WriteString(h.sdID)
	b.WriteString(` tenant="`)
	b.WriteString(escapeParam(ev.TenantID))
	b.WriteString(`" seq="`)
	b.WriteString(strconv.FormatUint(ev.Seq, 10))
	b.WriteString(`"] `)
	b.WriteString(bom)
	b.Write(msg)
	return []byte(b.String()), nil
}

// escapeParam escapes an SD-PARAM value: '"', '\' and ']' get a
// backslash (RFC 5424 §6.3.3). Other UTF-8 is allowed as is.
func escapeParam(v string) string {
	if !strings.ContainsAny(v, "\"\\]") {
		return v
	}
	var b strings.Builder
	for _, r := range v {
		if r == '"' || r == '\\' || r == ']' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// headerField turns s into a header field: printable US-ASCII without
// spaces, at most max characters, "-" (NILVALUE) when empty.
func headerField(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if c := s[i]; c >= 33 && c <= 126 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// validSDID reports whether id is a legal SD-NAME (1-32 printable ASCII,
// no '=', ' ', ']', '"') containing '@' as a private id must.
func validSDID(id string) error {
	if len(id) == 0 || len(id) > 32 || !strings.Contains(id, "@") {
		return fmt.Errorf("syslog sink: SD-ID %q must be name@number, at most 32 characters", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			return fmt.Errorf("syslog sink: SD-ID %q has an illegal character", id)
		}
	}
	return nil
}
