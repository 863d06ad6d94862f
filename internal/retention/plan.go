// Package retention holds the rules of data retention: a tenant's plan
// (how long its memories live) and a memory's own expiration_date. It
// decides what is due; the engine authorises, deletes and audits.
package retention

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Plan names. Values are stable: they are stored as a tenant setting.
const (
	Free       = "free"
	Pro        = "pro"
	Enterprise = "enterprise"
)

// FreeDays is the free plan's window.
const FreeDays = 60

// MaxDays bounds an enterprise window (100 years): more is a typo, and
// the window must stay a representable duration.
const MaxDays = 36500

// Setting is the tenant_settings key a plan is stored under.
const Setting = "retention_plan"

// Plan is a tenant's retention plan. Days is the window in days; 0 means
// unlimited (pro).
type Plan struct {
	Name string `json:"plan"`
	Days int    `json:"retention_days,omitempty"`
}

// Default is the plan of a tenant that never set one: pro, unlimited, so
// that an upgrade never deletes anyone's data.
var Default = Plan{Name: Pro}

// New checks a plan as an operator gives it: free (60 days, no other),
// pro (unlimited, no days), enterprise (days required, 1 to MaxDays).
// days < 0 means "not given".
func New(name string, days int) (Plan, error) {
	switch name {
	case Free:
		if days >= 0 && days != FreeDays {
			return Plan{}, fmt.Errorf("the free plan keeps %d days; --retention-days applies to enterprise only", FreeDays)
		}
		return Plan{Name: Free, Days: FreeDays}, nil
	case Pro:
		if days >= 0 {
			return Plan{}, fmt.Errorf("the pro plan keeps everything; --retention-days applies to enterprise only")
		}
		return Plan{Name: Pro}, nil
	case Enterprise:
		if days < 0 {
			return Plan{}, fmt.Errorf("the enterprise plan needs --retention-days (1 to %d)", MaxDays)
		}
		if days < 1 || days > MaxDays {
			return Plan{}, fmt.Errorf("--retention-days must be 1 to %d", MaxDays)
		}
		return Plan{Name: Enterprise, Days: days}, nil
	}
	return Plan{}, fmt.Errorf("unknown plan %q: free, pro or enterprise", name)
}

// String is the plan as stored: "free", "pro" or "enterprise:DAYS".
func (p Plan) String() string {
	if p.Name == Enterprise {
		return Enterprise + ":" + strconv.Itoa(p.Days)
	}
	return p.Name
}

// Parse reads a stored plan; "" (never set) is Default.
func Parse(s string) (Plan, error) {
	if s == "" {
		return Default, nil
	}
	name, days, ok := strings.Cut(s, ":")
	if !ok {
		return New(name, -1)
	}
	n, err := strconv.Atoi(days)
	if err != nil || name != Enterprise {
		return Plan{}, fmt.Errorf("stored retention plan %q is malformed", s)
	}
	return New(name, n)
}

// Window is how long a memory lives under the plan; ok is false when the
// plan keeps everything.
func (p Plan) Window() (d time.Duration, ok bool) {
	if p.Days <= 0 {
		return 0, false
	}
	return time.Duration(p.Days) * 24 * time.Hour, true
}

// Cutoff is the creation time before which a memory is past the plan's
// window at now; ok is false when the plan keeps everything.
func (p Plan) Cutoff(now time.Time) (time.Time, bool) {
	w, ok := p.Window()
	if !ok {
		return time.Time{}, false
	}
	return now.Add(-w), true
}
