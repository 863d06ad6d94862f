// Command fipsprobe is a test helper for TestFIPSBuild: the test builds it
// with GOFIPS140 and runs it, the way the server starts. It runs SelfTest
// first, as the server does, then reports as JSON what the active profile
// does with the golden envelopes named on the command line. It exits 1 if
// SelfTest fails and 3 on a usage error.
package main

import (
	"crypto/fips140"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/engram-memory/engram/internal/seal"
)

// report is what the probe prints; TestFIPSBuild decodes it.
type report struct {
	FIPSEnabled bool
	FIPSVersion string
	Profile     string
	SealAlg     int
	RoundTrip   bool
	Opened      map[string]bool // golden file → opened to its plaintext
}

// golden is the subset of testdata/seal/*.golden that the probe needs.
type golden struct {
	Key struct {
		ID      string `json:"id"`
		Version uint32 `json:"version"`
		Secret  string `json:"secret"`
	} `json:"key"`
	Context   seal.Context `json:"context"`
	Plaintext string       `json:"plaintext"`
	Envelope  string       `json:"envelope"`
}

func main() {
	if err := seal.SelfTest(); err != nil {
		fmt.Fprintln(os.Stderr, "fipsprobe:", err)
		os.Exit(1)
	}
	r := report{
		FIPSEnabled: fips140.Enabled(),
		FIPSVersion: fips140.Version(),
		Profile:     seal.Profile(),
		Opened:      map[string]bool{},
	}
	k := seal.Key{Version: 1, Secret: make([]byte, 32)}
	c := seal.Context{Domain: "probe", Field: "f"}
	env, err := seal.Seal(k, c, []byte("probe"))
	if err != nil {
		fail(err)
	}
	h, err := seal.Parse(env)
	if err != nil {
		fail(err)
	}
	r.SealAlg = int(h.Alg)
	pt, err := seal.Open(k, c, env)
	r.RoundTrip = err == nil && string(pt) == "probe"
	for _, path := range os.Args[1:] {
		r.Opened[path] = openGolden(path)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fail(err)
	}
}

func openGolden(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		fail(err)
	}
	id, err1 := hex.DecodeString(g.Key.ID)
	secret, err2 := hex.DecodeString(g.Key.Secret)
	env, err3 := hex.DecodeString(g.Envelope)
	want, err4 := hex.DecodeString(g.Plaintext)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(id) != 16 {
		fail(fmt.Errorf("%s: bad golden file", path))
	}
	k := seal.Key{Version: g.Key.Version, Secret: secret}
	copy(k.ID[:], id)
	pt, err := seal.Open(k, g.Context, env)
	return err == nil && string(pt) == string(want)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fipsprobe:", err)
	os.Exit(3)
}
