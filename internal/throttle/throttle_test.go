package throttle_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/throttle"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// TestAccountSequence walks the default account policy: four free
// failures, then 30 s, 1 min, 2 min, … doubling to the 15 min cap.
func TestAccountSequence(t *testing.T) {
	p := throttle.Account
	var s throttle.State
	now := t0
	for i := 1; i <= 4; i++ {
		if ok, _ := p.Check(now, s); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		s = p.Fail(now, s)
		now = now.Add(time.Second)
	}
	wants := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, want := range wants {
		if ok, _ := p.Check(now, s); !ok {
			t.Fatalf("attempt %d refused", 5+i)
		}
		s = p.Fail(now, s)
		ok, wait := p.Check(now, s)
		if ok || wait != want {
			t.Fatalf("after failure %d: ok=%v wait=%v, want locked for %v", 5+i, ok, wait, want)
		}
		// Refused attempts while locked are not counted.
		if ok, w := p.Check(now.Add(want/2), s); ok || w != want-want/2 {
			t.Fatalf("half way: ok=%v wait=%v", ok, w)
		}
		now = now.Add(want)
		if ok, _ := p.Check(now, s); !ok {
			t.Fatalf("still locked at the end of lockout %d", i)
		}
	}
	if s.Failures != 11 {
		t.Errorf("Failures = %d, want 11", s.Failures)
	}
	// Success: a fresh start.
	s = p.Succeed(now, s)
	for i := 1; i <= 4; i++ {
		s = p.Fail(now, s)
	}
	if ok, _ := p.Check(now, s); !ok {
		t.Error("success did not reset the count")
	}
}

func TestForget(t *testing.T) {
	p := throttle.Account
	var s throttle.State
	for range 4 {
		s = p.Fail(t0, s)
	}
	// A day later the four failures are forgotten: the next one is the
	// first again.
	s = p.Fail(t0.Add(24*time.Hour), s)
	if s.Failures != 1 {
		t.Errorf("after a quiet day Failures = %d, want 1", s.Failures)
	}
	if !p.Idle(t0.Add(48*time.Hour), s) || p.Idle(t0.Add(25*time.Hour), s) {
		t.Error("Idle wrong")
	}
	// A locked state is never forgotten before its lockout ends, even
	// with a Forget shorter than the lockout.
	q := throttle.Policy{Free: 1, Base: time.Hour, Max: time.Hour, Forget: time.Minute}
	ls := q.Fail(t0, throttle.State{})
	if ok, _ := q.Check(t0.Add(30*time.Minute), ls); ok {
		t.Error("lock forgotten early")
	}
}

func TestRetryAfterRounding(t *testing.T) {
	p := throttle.Policy{Free: 1, Base: 1500 * time.Millisecond, Max: time.Hour, Forget: time.Hour}
	s := p.Fail(t0, throttle.State{})
	if _, w := p.Check(t0, s); w != 2*time.Second {
		t.Errorf("1.5 s rounds to %v, want 2s", w)
	}
	if _, w := p.Check(t0.Add(1499*time.Millisecond), s); w != time.Second {
		t.Errorf("1 ms left rounds to %v, want 1s", w)
	}
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", 30 * time.Second: "30", 1001 * time.Millisecond: "2"} {
		if got := throttle.RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestHugeCountsStayCapped(t *testing.T) {
	p := throttle.Policy{Free: 1, Base: time.Second, Max: time.Hour, Forget: 1000 * time.Hour}
	s := throttle.State{}
	now := t0
	for range 200 {
		s = p.Fail(now, s)
		_, w := p.Check(now, s)
		if w <= 0 || w > time.Hour {
			t.Fatalf("failure %d: wait %v", s.Failures, w)
		}
		now = s.LockedUntil
	}
}

// TestSpraying: one address trying one password against many accounts is
// stopped by the address key, and logging into its own account between
// guesses does not reset that.
func TestSpraying(t *testing.T) {
	g := throttle.NewGate()
	now := t0
	for i := range 19 {
		acct := fmt.Sprintf("victim%d", i)
		if ok, _ := g.Allow(now, acct, "203.0.113.9"); !ok {
			t.Fatalf("guess %d refused early", i)
		}
		g.Record(now, acct, "203.0.113.9", false)
		g.Record(now, "attacker-own", "203.0.113.9", true)
	}
	g.Record(now, "victim19", "203.0.113.9", false)
	ok, wait := g.Allow(now, "victim20", "203.0.113.9")
	if ok || wait != time.Minute {
		t.Fatalf("20th failure from one address: ok=%v wait=%v, want a 1 min lockout", ok, wait)
	}
	// Other addresses are not affected, nor are the victims' accounts (one
	// failure each).
	if ok, _ := g.Allow(now, "victim3", "198.51.100.7"); !ok {
		t.Error("a victim is locked out from another address")
	}
}

// TestAccountLockIsPerEmail: guesses at one account from many addresses
// lock that account (key), whether or not it exists.
func TestAccountLockIsPerEmail(t *testing.T) {
	g := throttle.NewGate()
	for i := range 5 {
		g.Record(t0, "blind:nobody@example.com", fmt.Sprintf("192.0.2.%d", i), false)
	}
	if ok, wait := g.Allow(t0, "blind:nobody@example.com", "192.0.2.200"); ok || wait != 30*time.Second {
		t.Errorf("after 5 failures from 5 addresses: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := g.Allow(t0, "blind:other@example.com", "192.0.2.1"); !ok {
		t.Error("another account refused")
	}
}

func TestTableBounded(t *testing.T) {
	tb := throttle.NewTable(throttle.Policy{Free: 1, Base: time.Hour, Max: time.Hour, Forget: time.Minute}, 10)
	tb.Fail(t0, "locked") // locked for an hour
	for i := range 100 {
		tb.Fail(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("flood%d", i))
		if tb.Len() > 10 {
			t.Fatalf("Len %d > 10", tb.Len())
		}
	}
	// The flood keys are locked too (Free 1), so the table had to drop
	// locked keys; with unlocked ones available it never does: check with
	// a Free=3 policy.
	tb = throttle.NewTable(throttle.Policy{Free: 3, Base: time.Hour, Max: time.Hour, Forget: time.Hour}, 10)
	for range 3 {
		tb.Fail(t0, "victim")
	}
	for i := range 100 {
		tb.Fail(t0, fmt.Sprintf("flood%d", i))
	}
	if ok, _ := tb.Check(t0, "victim"); ok {
		t.Error("a flood of new keys evicted a locked key while unlocked ones were there")
	}
}

// TestLogin429 shows the answer the REST layer gives: a real server
// refusing with 429 and Retry-After before checking any password.
func TestLogin429(t *testing.T) {
	g := throttle.NewGate()
	var now atomic.Int64 // the handler's clock, moved by the test
	now.Store(t0.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var checked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		ip := strings.Split(r.RemoteAddr, ":")[0]
		if ok, wait := g.Allow(clock(), in.Email, ip); !ok {
			w.Header().Set("Retry-After", throttle.RetryAfter(wait))
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, `{"title":"Too Many Requests","status":429,"detail":"too many failed logins; try again in %s seconds"}`, throttle.RetryAfter(wait))
			return
		}
		checked.Add(1)
		ok := in.Password == "right password here"
		g.Record(clock(), in.Email, ip, ok)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	post := func(pw string) *http.Response {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"email":"a@example.com","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 5 {
		if r := post("guess"); r.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, r.StatusCode)
		}
	}
	r := post("right password here")
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "30" {
		t.Fatalf("locked: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if n := checked.Load(); n != 5 {
		t.Errorf("passwords checked %d times, want 5: a locked login must not reach the hash", n)
	}
	now.Add(int64(30 * time.Second))
	if r := post("right password here"); r.StatusCode != 200 {
		t.Errorf("after the lockout: %d", r.StatusCode)
	}
}
