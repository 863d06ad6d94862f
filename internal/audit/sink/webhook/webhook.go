// Package webhook is the audit sink that POSTs each event, signed, to an
// HTTPS endpoint, through a durable local spool and an SSRF-guarded dialer.
//
// Send writes the event's envelope (sink.Event.Envelope) to the spool and
// returns: nil means the event is on disk and will be delivered, whatever
// the receiver's state, across restarts. One background worker delivers
// each tenant's events in sequence order, one POST per event, and deletes
// an event from the spool only after a 2xx answer. A failed attempt (network
// error, timeout, non-2xx, redirect) is retried after an exponential
// backoff with jitter, capped at MaxBackoff, forever: an audit trail
// prefers a stalled stream to a gap. Backoff is per tenant: a tenant's
// stream never overtakes its failed event, and other tenants' streams keep
// flowing meanwhile.
//
// Delivery is at-least-once: a crash or a lost response between the
// receiver's 2xx and the spool deletion redelivers the event with the same
// Webhook-Id (and Idempotency-Key), "<tenant>:<seq>", so a receiver that
// records ids gets exactly-once effect. The seq in the body also lets it
// detect gaps. See signature.go for the signing scheme and Verify.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/safedial"
	"github.com/engram-memory/engram/internal/audit/sink/spool"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultMaxSpooled caps the spool: at ~0.5 KB an event, 100k events
	// is about 50 MB, days of a busy tenant's trail.
	DefaultMaxSpooled = 100_000
)

// Config configures a webhook sink.
type Config struct {
	URL      string // https://…; http:// only with AllowHTTP
	Secret   []byte // HMAC key; at least 16 bytes
	SpoolDir string // durable queue; owned by this sink alone
	// MaxSpooled caps the events waiting in the spool (0 =
	// DefaultMaxSpooled); beyond it Send fails with spool.ErrFull.
	MaxSpooled int
	Policy     safedial.Policy // which internal ranges the dialer may reach (none by default)
	AllowHTTP  bool            // permit plain http:// (the signature still authenticates; nothing is confidential)
	TLS        *tls.Config     // optional roots for private CAs
	Timeout    time.Duration   // per attempt
	// MinBackoff and MaxBackoff bound the wait after a failed attempt: a
	// tenant's n-th consecutive failure waits a uniformly random time in
	// [d/2, d] with d = min(MaxBackoff, MinBackoff·2ⁿ⁻¹).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	Now                    func() time.Time // signing clock; time.Now when nil
}

// Stats are the sink's running totals.
type Stats struct {
	Spooled   uint64 // events accepted into the spool by Send
	Delivered uint64 // events acknowledged by the receiver
	Attempts  uint64 // POSTs that failed and will be retried
}

// Sink is a webhook sink. Safe for concurrent use.
type Sink struct {
	cfg    Config
	name   string
	client *http.Client
	spool  *spool.Spool
	log    *slog.Logger

	wake chan struct{} // a Send happened
	stop chan struct{} // Close was called
	done chan struct{} // the worker returned
	once sync.Once

	spooled, delivered, failed atomic.Uint64
	idle                       sync.Cond // signalled after each delivery round
	idleMu                     sync.Mutex
	empty                      bool   // the last round found the spool empty and no Send came since
	sends                      uint64 // Sends so far; a round started before the latest cannot vouch for emptiness
}

var _ sink.Sink = (*Sink)(nil)

// New validates cfg, opens the spool and starts the delivery worker, which
// first delivers what a previous process left in the spool. Errors never
// contain the secret or URL credentials.
func New(cfg Config) (*Sink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("webhook sink: unparsable URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && cfg.AllowHTTP:
	case u.Scheme == "http":
		return nil, fmt.Errorf("webhook sink %s: plain http needs allow_http", u.Redacted())
	default:
		return nil, fmt.Errorf("webhook sink %s: scheme must be https", u.Redacted())
	}
	if u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("webhook sink %s: need a host and no user info", u.Redacted())
	}
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("webhook sink %s: secret must be at least 16 bytes", u.Redacted())
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSpooled <= 0 {
		cfg.MaxSpooled = DefaultMaxSpooled
	}
	sp, err := spool.Open(cfg.SpoolDir, cfg.MaxSpooled)
	if err != nil {
		return nil, fmt.Errorf("webhook sink: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	}
	transport := &http.Transport{
		// No proxy: a proxy would make the connection the guard checks the
		// proxy's, not the receiver's.
		Proxy:               nil,
		DialContext:         cfg.Policy.Dialer(cfg.Timeout).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: cfg.Timeout,
		MaxIdleConns:        2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	name := "webhook:" + u.Scheme + "://" + u.Host + u.EscapedPath()
	s := &Sink{
		cfg:  cfg,
		name: name,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// A redirect is a failed delivery: following it would POST the
			// trail to a place the operator never configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		spool: sp,
		log:   cfg.Logger.With("component", "audit-sink", "sink", name),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	s.idle.L = &s.idleMu
	go s.run()
	return s, nil
}

// Name is "webhook:<scheme>://<host><path>", without query or credentials.
func (s *Sink) Name() string { return s.name }

// Spooled reports that Send's nil means "queued durably".
func (s *Sink) Spooled() bool { return true }

// Send spools ev and wakes the worker. nil means the event is fsynced to
// the spool and will be delivered. It fails when the sink is closed, the
// entry is not valid JSON, the spool is full (errors.Is spool.ErrFull) or
// cannot be written.
func (s *Sink) Send(_ context.Context, ev sink.Event) error {
	select {
	case <-s.stop:
		return errors.New("webhook sink: closed")
	default:
	}
	body, err := ev.Envelope()
	if err != nil {
		return err
	}
	if err := s.spool.Append(ev.TenantID, ev.Seq, body); err != nil {
		return fmt.Errorf("webhook sink: %w", err)
	}
	s.spooled.Add(1)
	s.idleMu.Lock()
	s.empty = false
	s.sends++
	s.idleMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns the running totals.
func (s *Sink) Stats() Stats {
	return Stats{Spooled: s.spooled.Load(), Delivered: s.delivered.Load(), Attempts: s.failed.Load()}
}

// Flush waits until the spool is empty or ctx ends. For shutdown and tests.
func (s *Sink) Flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.idleMu.Lock()
		defer s.idleMu.Unlock()
		s.idle.Broadcast()
	})
	defer stop()
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	for !s.empty {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("webhook sink: flush: %w", err)
		}
		s.idle.Wait()
	}
	return nil
}

// Close stops the worker, cancelling an attempt in flight, and waits for
// it to return. Undelivered events (the cancelled one included) stay in
// the spool for the next process.
func (s *Sink) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	s.client.CloseIdleConnections()
	return nil
}

// run delivers rounds until Close. A round walks every tenant's pending
// events in order. A failure ends that tenant's turn and puts the tenant
// in backoff: later rounds skip it until its retry time, so one stalled
// stream (a receiver rejecting one event) does not slow the others.
func (s *Sink) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	retry := map[string]*retryState{}
	var spoolFailures int // consecutive failures to read the spool itself
	for {
		// Checked on every turn, not only while waiting: after Close, a
		// round cut short by the cancelled ctx reports events left and no
		// retry time, and the loop below would go straight into another
		// round, and another, never reaching the wait (a shutdown hang
		// seen under load in TestOutageRestartRecovery).
		select {
		case <-s.stop:
			return
		default:
		}
		s.idleMu.Lock()
		sendsBefore := s.sends
		s.idleMu.Unlock()
		next, empty, spoolErr := s.round(ctx, retry)
		s.idleMu.Lock()
		s.empty = empty && s.sends == sendsBefore
		s.idle.Broadcast()
		s.idleMu.Unlock()
		if spoolErr {
			spoolFailures++
			next = time.Now().Add(s.backoff(spoolFailures))
		} else {
			spoolFailures = 0
		}
		var (
			timer *time.Timer
			wait  <-chan time.Time
		)
		switch {
		case !next.IsZero():
			timer = time.NewTimer(time.Until(next))
			wait = timer.C
		case !empty:
			continue // more arrived during the round
		}
		stopped := false
		select {
		case <-s.stop:
			stopped = true
		case <-wait:
		case <-s.wake:
			// New events: deliver them now; tenants in backoff stay
			// skipped until their time.
		}
		if timer != nil {
			timer.Stop()
		}
		if stopped {
			return
		}
	}
}

// retryState is one tenant's backoff.
type retryState struct {
	failures int
	next     time.Time
}

// backoff is "equal jitter" over a capped exponential: at least half the
// step, so a receiver that is down is not hammered, and random in the
// other half, so many Engram instances do not retry in lockstep.
func (s *Sink) backoff(failures int) time.Duration {
	d := s.cfg.MaxBackoff
	if failures <= 32 {
		d = min(s.cfg.MaxBackoff, s.cfg.MinBackoff<<(failures-1))
	}
	return d/2 + rand.N(d/2+1)
}

// batch bounds how many of one tenant's events a round reads at once.
const batch = 64

// round makes one delivery pass over the tenants not in backoff. next is
// the earliest retry time of a tenant in backoff (zero when none), empty
// reports that nothing was left to deliver, spoolErr that the spool could
// not be read.
func (s *Sink) round(ctx context.Context, retry map[string]*retryState) (next time.Time, empty, spoolErr bool) {
	tenants, err := s.spool.Tenants()
	if err != nil {
		s.log.Error("audit webhook: list spool", "err", err)
		return time.Time{}, false, true
	}
	empty = true
	for _, t := range tenants {
		if ctx.Err() != nil {
			return next, false, false
		}
		if st := retry[t]; st != nil && time.Now().Before(st.next) {
			empty = false
			if next.IsZero() || st.next.Before(next) {
				next = st.next
			}
			continue
		}
		failed, err := s.deliverTenant(ctx, t)
		if err != nil {
			s.log.Error("audit webhook: spool", "err", err)
			return next, false, true
		}
		if !failed {
			delete(retry, t)
			continue
		}
		empty = false
		st := retry[t]
		if st == nil {
			st = &retryState{}
			retry[t] = st
		}
		st.failures++
		st.next = time.Now().Add(s.backoff(st.failures))
		if next.IsZero() || st.next.Before(next) {
			next = st.next
		}
	}
	return next, empty, false
}

// deliverTenant posts tenant's pending events in order until none is left
// or one fails (failed). err reports a spool error.
func (s *Sink) deliverTenant(ctx context.Context, tenant string) (failed bool, err error) {
	for {
		recs, err := s.spool.Pending(tenant, batch)
		if err != nil || len(recs) == 0 {
			return false, err
		}
		for _, r := range recs {
			if ctx.Err() != nil {
				return true, nil
			}
			if err := s.post(ctx, r); err != nil {
				s.failed.Add(1)
				// Event id and error only, never the body.
				s.log.Warn("audit webhook delivery failed; will retry", "event", r.Tenant+":"+strconv.FormatUint(r.Seq, 10), "err", err)
				return true, nil
			}
			if err := s.spool.Remove(r.Tenant, r.Seq); err != nil {
				return false, err
			}
			s.delivered.Add(1)
		}
	}
}

// post makes one signed delivery attempt.
func (s *Sink) post(ctx context.Context, r spool.Record) error {
	id := r.Tenant + ":" + strconv.FormatUint(r.Seq, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(r.Body))
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "engram-audit-webhook/1")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderIdempotency, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, id, now, r.Body))
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the full URL, whose query may hold a token.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
