package diskspace

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Floor is the free space writes must leave: a number of bytes, or a
// percentage of the filesystem's size. The zero Floor refuses nothing.
type Floor struct {
	Bytes   uint64
	Percent float64 // 0 < Percent <= 100; used instead of Bytes when set
}

// below reports whether avail bytes free out of total is under the floor.
func (f Floor) below(avail, total uint64) bool {
	if f.Percent > 0 {
		return float64(avail) < float64(total)*f.Percent/100
	}
	return avail < f.Bytes
}

func (f Floor) String() string {
	if f.Percent > 0 {
		return strconv.FormatFloat(f.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatUint(f.Bytes, 10) + "B"
}

var units = []struct {
	suffix string
	mult   uint64
}{
	// Longest first, so "MiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50}, {"EiB", 1 << 60},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15}, {"EB", 1e18},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseFloor reads a floor: "256MiB", "2GB", "1073741824", "5%", or "0"
// (no floor). Binary (KiB…EiB, K, M, G, T) and decimal (KB…EB) units are
// accepted, case-insensitively.
func ParseFloor(s string) (Floor, error) {
	t := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(t, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return Floor{}, fmt.Errorf("free-space floor %q: a percentage must be between 0 and 100", s)
		}
		return Floor{Percent: v}, nil
	}
	mult := uint64(1)
	num := t
	for _, u := range units {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			mult, num = u.mult, strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return Floor{}, fmt.Errorf("free-space floor %q: want a size like 256MiB or 2GB, or a percentage like 5%%", s)
	}
	b := v * float64(mult)
	if b >= math.MaxUint64 {
		return Floor{}, fmt.Errorf("free-space floor %q is too large", s)
	}
	return Floor{Bytes: uint64(b)}, nil
}
