package retention

import (
	"testing"
	"time"
)

func TestNewPlan(t *testing.T) {
	for _, c := range []struct {
		name string
		days int
		want string // "" = error
	}{
		{"free", -1, "free"}, {"free", 60, "free"}, {"free", 30, ""},
		{"pro", -1, "pro"}, {"pro", 10, ""},
		{"enterprise", 400, "enterprise:400"}, {"enterprise", -1, ""}, {"enterprise", 0, ""},
		{"enterprise", MaxDays + 1, ""}, {"gold", -1, ""}, {"", -1, ""},
	} {
		p, err := New(c.name, c.days)
		if c.want == "" {
			if err == nil {
				t.Errorf("New(%q, %d) = %v, want an error", c.name, c.days, p)
			}
			continue
		}
		if err != nil || p.String() != c.want {
			t.Errorf("New(%q, %d) = %v, %v; want %s", c.name, c.days, p, err, c.want)
			continue
		}
		back, err := Parse(p.String())
		if err != nil || back != p {
			t.Errorf("Parse(%q) = %v, %v; want %v", p.String(), back, err, p)
		}
	}
	if p, err := Parse(""); err != nil || p != Default || p.Name != Pro {
		t.Fatalf("a tenant without a plan must be pro: %v %v", p, err)
	}
	for _, bad := range []string{"pro:3", "enterprise:x", "free:60"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestDue(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	free, _ := New(Free, -1)
	pro, _ := New(Pro, -1)
	day := 24 * time.Hour
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	for _, c := range []struct {
		p       Plan
		age     time.Duration
		expires *time.Time
		want    Reason
	}{
		{free, 61 * day, nil, Window},
		{free, 59 * day, nil, Keep},
		{pro, 3650 * day, nil, Keep},
		{pro, 0, &past, Expiry},
		{pro, 0, &now, Expiry},
		{free, 61 * day, &future, Window},
		{pro, 0, &future, Keep},
	} {
		if got := Due(c.p, now.Add(-c.age), c.expires, now); got != c.want {
			t.Errorf("Due(%v, age %v, expires %v) = %v, want %v", c.p, c.age, c.expires, got, c.want)
		}
	}
}

func TestParseExpiration(t *testing.T) {
	d, err := ParseExpiration("2026-01-31")
	if err != nil || !d.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("date: %v %v (a date lives through its day)", d, err)
	}
	tm, err := ParseExpiration("2026-01-31T10:00:00+02:00")
	if err != nil || !tm.Equal(time.Date(2026, 1, 31, 8, 0, 0, 0, time.UTC)) || tm.Location() != time.UTC {
		t.Fatalf("time: %v %v", tm, err)
	}
	for _, bad := range []string{"", "tomorrow", "2026-13-01", "31/01/2026", "2026-01-31 10:00"} {
		if _, err := ParseExpiration(bad); err == nil {
			t.Errorf("ParseExpiration(%q) accepted", bad)
		}
	}
}
