package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/testserver"
)

// lateEmbedder is a model still busy when the request's deadline passes:
// it ignores ctx and returns its vectors only after the deadline (or after
// a few seconds, so that a server without deadlines does not hang).
type lateEmbedder struct{ *embedtest.Embedder }

func (l lateEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
	return l.Embedder.Embed(context.Background(), texts)
}

// TestRequestDeadline: a write still working at the request timeout
// commits nothing and answers 503 unavailable, which reaches the client.
// Before, a request had no deadline: it committed whenever it finished,
// after the server's write timeout had dropped the connection.
func TestRequestDeadline(t *testing.T) {
	s := testserver.StartWith(t, testserver.Options{Embedder: lateEmbedder{embedtest.New(16)}, RequestTimeout: time.Second})
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	_, err := c.Add(ctx, client.AddRequest{Content: "too late to be stored", UserID: "alice"})
	ce, ok := err.(*client.Error)
	if !ok || ce.Status != http.StatusServiceUnavailable || ce.Code != "unavailable" {
		t.Fatalf("add past the deadline: %v", err)
	}
	page, err := c.List(ctx, client.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 0 {
		t.Fatalf("a write past its deadline committed: %+v", page.Results)
	}
	// The audit trail records the same outcome the client saw.
	trail, err := c.Audit(ctx, engram.AuditQuery{Action: engram.AuditMemoryCreate})
	if err != nil {
		t.Fatal(err)
	}
	if len(trail.Entries) != 1 || trail.Entries[0].Outcome != engram.OutcomeFailure || trail.Entries[0].Reason != "unavailable" {
		t.Fatalf("audit of the late add: %+v", trail.Entries)
	}
}

// TestTruncatedBody: a body that ends before its Content-Length (the
// client closed its side) and a body that ends mid-JSON both answer 400
// invalid, not 500 internal. Sent over a raw connection, since no HTTP
// client sends a body shorter than it declares.
func TestTruncatedBody(t *testing.T) {
	s := testserver.Start(t)
	nt, err := s.Engine.CreateTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.URL)
	for name, c := range map[string]struct {
		length int
		body   string
	}{
		"cut short":  {length: 100, body: `{"content":"par`},
		"mid-JSON":   {length: len(`{"content":"par`), body: `{"content":"par`},
		"empty body": {length: 50, body: ``},
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1/memories HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				u.Host, nt.Key.Secret, c.length, c.body)
			// Half-close: the server reads the end of the body, and can
			// still answer.
			if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct{ Code, Detail string }
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusBadRequest || p.Code != "invalid" || strings.Contains(p.Detail, "par") {
				t.Fatalf("status %d, problem %+v", resp.StatusCode, p)
			}
		})
	}
}

// slowEmbedder is a model that takes longer than huma's 5 s body read
// timeout, unless the request's context ends first.
type slowEmbedder struct{ *embedtest.Embedder }

func (s slowEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(6 * time.Second):
	}
	return s.Embedder.Embed(ctx, texts)
}

// TestSlowRequestKeepsItsConnection: a request with a body that works
// longer than 5 s is carried out, and the next request on the same
// keep-alive connection is too. Before, huma set a 5 s read deadline after
// the body had been read (by utf8Bodies): it hit net/http's background read,
// which cancelled the connection's context, so the slow request answered
// 503 unavailable and every later request on the connection failed at once
// with 503 ("begin: context canceled").
func TestSlowRequestKeepsItsConnection(t *testing.T) {
	s := testserver.StartWith(t, testserver.Options{Embedder: slowEmbedder{embedtest.New(16)}, RequestTimeout: time.Minute})
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	if _, err := c.Add(ctx, client.AddRequest{Content: "a slow but healthy write", UserID: "alice"}); err != nil {
		t.Fatalf("add working longer than 5 s: %v", err)
	}
	for i := 0; i < 3; i++ {
		page, err := c.List(ctx, client.ListRequest{})
		if err != nil {
			t.Fatalf("request %d after the slow one: %v", i, err)
		}
		if len(page.Results) != 1 {
			t.Fatalf("list after the slow add: %d results", len(page.Results))
		}
	}
}
