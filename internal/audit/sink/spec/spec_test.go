package spec_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/engram-memory/engram/internal/audit/sink/file"
	"github.com/engram-memory/engram/internal/audit/sink/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secretValue = "s3cr3t-value-that-must-not-leak"

func env(k string) string {
	switch k {
	case spec.DefaultSecretEnv:
		return secretValue
	case "HOOK2":
		return "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123"))
	case "SHORT":
		return "short-" + "leak"
	case "BADB64":
		return "whsec_!!notbase64-leak"
	}
	return ""
}

func TestParseList(t *testing.T) {
	specs, err := spec.Parse(
		"file:/var/log/engram/audit.jsonl#max_bytes=1000&keep=3&sync=never; syslog+udp://collector:514#facility=16&hostname=e1\n"+
			"syslog+tls://collector:6514  https://siem.example.com/hook?token=q#spool=/var/lib/engram/spool&timeout=3s&max_backoff=1m&spool_max=500 "+
			"http://10.0.0.5:8080/h#secret_env=HOOK2&spool=/s&allow=private,http", env)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 5 {
		t.Fatalf("got %d specs", len(specs))
	}
	f := specs[0].File
	if f == nil || f.Path != "/var/log/engram/audit.jsonl" || f.MaxBytes != 1000 || f.Keep != 3 || f.Sync != file.SyncNever {
		t.Fatalf("file %+v", f)
	}
	if sl := specs[1].Syslog; sl == nil || sl.Network != "udp" || sl.Addr != "collector:514" || sl.Facility != 16 || sl.Hostname != "e1" {
		t.Fatalf("syslog %+v", sl)
	}
	if sl := specs[2].Syslog; sl == nil || sl.Network != "tls" || sl.Facility != 13 {
		t.Fatalf("syslog tls %+v", sl)
	}
	w := specs[3].Webhook
	if w == nil || w.URL != "https://siem.example.com/hook?token=q" || string(w.Secret) != secretValue ||
		w.SpoolDir != "/var/lib/engram/spool" || w.Timeout != 3*time.Second || w.MaxBackoff != time.Minute || w.MaxSpooled != 500 || w.Policy.AllowLoopback {
		t.Fatalf("webhook %+v", w)
	}
	w = specs[4].Webhook
	if w == nil || string(w.Secret) != "0123456789abcdef0123" || !w.Policy.AllowPrivate || !w.AllowHTTP || w.Policy.AllowLoopback {
		t.Fatalf("webhook 2 %+v", w)
	}
}

func TestParseErrorsNeverEchoSecrets(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ftp://x/y", "unknown scheme"},
		{"file:", "want file:"},
		{"file:/a#keep=-1", "non-negative"},
		{"file:/a#sync=sometimes", "sync="},
		{"file:/a#kep=3", `unknown option "kep"`},
		{"syslog+tcp://collector", "host:port"},
		{"syslog+udp://c:514#facility=40", "facility"},
		{"syslog+udp://c:514#ca=/x.pem", "ca applies to syslog+tls only"},
		{"https://h/x", "spool=/dir is required"},
		{"https://h/x#spool=/s&secret_env=UNSET", "$UNSET"},
		{"https://h/x#spool=/s&secret_env=SHORT", "at least 16 bytes"},
		{"https://h/x#spool=/s&secret_env=BADB64", "not base64"},
		{"https://user:" + secretValue + "@h/x#spool=/s", "credentials in the URL"},
		{"http://h/x#spool=/s", "allow=http"},
		{"https://h/x#spool=/s&allow=everything", "allow="},
		{"https://h/x#spool=/s&timeout=soon", "timeout="},
		{"https://h/x?k=" + secretValue + "#spool=/s&secret_env=SHORT", "at least 16 bytes"},
	} {
		_, err := spec.Parse(c.in, env)
		if err == nil {
			t.Errorf("%s: want error", c.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q does not say %q", c.in, msg, c.want)
		}
		if strings.Contains(msg, secretValue) || strings.Contains(msg, "leak") {
			t.Errorf("%s: error echoes a secret: %q", c.in, msg)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	specs, err := spec.Parse("file:"+filepath.Join(dir, "a.jsonl")+" syslog+udp://127.0.0.1:514 "+
		"https://example.com/h#spool="+filepath.Join(dir, "spool"), env)
	if err != nil {
		t.Fatal(err)
	}
	sinks, err := spec.Open(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sinks {
		if strings.Contains(s.Name(), secretValue) {
			t.Fatalf("name leaks: %s", s.Name())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "spool")); err != nil {
		t.Fatal("webhook spool not created:", err)
	}
}

// FuzzParse: any input parses or fails cleanly, and no error repeats the
// secret held in the environment.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"file:/a#keep=2", "syslog+tcp://h:1", "https://h/x#spool=/s", "https://u:p@h/#x=%zz", "http://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if _, err := spec.Parse(in, env); err != nil && strings.Contains(err.Error(), secretValue) && !strings.Contains(in, secretValue) {
			t.Fatalf("error echoes the env secret: %v", err)
		}
	})
}
