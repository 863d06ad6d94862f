package seal_test

import (
	"bytes"
	"crypto/fips140"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/seal"
)

// castNames are the Go FIPS 140-3 self-tests (CASTs) that guard the
// primitives this package uses: SHA-256, HMAC-SHA256, HKDF-SHA256, the AES
// block cipher, GCM (covered by the CounterKDF CAST, IG 10.3.A) and the DRBG
// behind crypto/rand (nonces and salts). See the SelfTest documentation.
var castNames = []string{"SHA2-256", "HMAC-SHA2-256", "HKDF-SHA2-256", "AES-CBC", "CounterKDF", "CTR_DRBG"}

// fipsModule is the frozen Go Cryptographic Module TestFIPSBuild builds
// with; $GOROOT/lib/fips140 holds its snapshot.
const fipsModule = "v1.26.0"

// TestSelfTest runs SelfTest in this process's profile. The FIPS tests also
// run it as a child process.
func TestSelfTest(t *testing.T) {
	if err := seal.SelfTest(); err != nil {
		t.Fatal(err)
	}
	t.Logf("SelfTest passed in the %s profile", seal.Profile())
}

// TestFIPSProfile checks the fips profile. Outside FIPS mode it runs itself
// again with GODEBUG=fips140=on and with GODEBUG=fips140=only.
func TestFIPSProfile(t *testing.T) {
	if !fips140.Enabled() {
		if os.Getenv("SEAL_FIPS_CHILD") != "" {
			t.Fatal("child not in FIPS mode")
		}
		for _, mode := range []string{"on", "only"} {
			out, err := runTestBinary(t, "GODEBUG=fips140="+mode, "-test.run=^TestFIPSProfile$", "-test.v")
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestFIPSProfile")) {
				t.Fatalf("child with fips140=%s: %v\n%s", mode, err, out)
			}
		}
		return
	}
	if got := seal.Profile(); got != "fips" {
		t.Errorf("Profile() = %q, want fips", got)
	}
	if err := seal.SelfTest(); err != nil {
		t.Errorf("SelfTest: %v", err)
	}
	k := newKey(t, 1)
	env, err := seal.Seal(k, baseContext, []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	if h, err := seal.Parse(env); err != nil || h.Alg != seal.AES256GCMHKDF {
		t.Errorf("Seal made %+v, %v; want algorithm 2", h, err)
	}
	if pt, err := seal.Open(k, baseContext, env); err != nil || string(pt) != "p" {
		t.Errorf("Open = %q, %v", pt, err)
	}
	if env, err := seal.SealWith(seal.AES256GCMSIV, k, baseContext, []byte("p")); err == nil {
		t.Errorf("sealed AES-256-GCM-SIV in FIPS mode: %x", env)
	}
	gk := goldenKey(t)
	g1, g2 := readGolden(t, goldenV1), readGolden(t, goldenV1Alg2)
	if pt, err := seal.Open(gk, g1.Context, unhex(t, g1.Envelope)); !errors.Is(err, seal.ErrOpen) || pt != nil {
		t.Errorf("Open(algorithm 1 golden) = %q, %v; want ErrOpen", pt, err)
	}
	if pt, err := seal.Open(gk, g2.Context, unhex(t, g2.Envelope)); err != nil || !bytes.Equal(pt, unhex(t, g2.Plaintext)) {
		t.Errorf("Open(algorithm 2 golden) = %q, %v", pt, err)
	}
}

// TestFailFIPSCAST runs TestSelfTest in child processes under
// GODEBUG=fips140=on,failfipscast=<name> for each CAST we depend on: each
// must die during initialisation, before any test runs, with Go's fatal
// error and exit status 2. Controls: an unknown name, and failfipscast
// outside FIPS mode, change nothing.
func TestFailFIPSCAST(t *testing.T) {
	if os.Getenv("SEAL_FIPS_CHILD") != "" {
		t.Skip("child process")
	}
	for _, name := range castNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := runTestBinary(t, "GODEBUG=fips140=on,failfipscast="+name, "-test.run=^TestSelfTest$", "-test.v")
			checkCASTFailure(t, name, out, err)
		})
	}
	for _, godebug := range []string{"fips140=on,failfipscast=NoSuchCAST", "fips140=off,failfipscast=CounterKDF"} {
		t.Run(godebug, func(t *testing.T) {
			t.Parallel()
			out, err := runTestBinary(t, "GODEBUG="+godebug, "-test.run=^TestSelfTest$", "-test.v")
			if err != nil || !bytes.Contains(out, []byte("--- PASS: TestSelfTest")) {
				t.Fatalf("GODEBUG=%s: %v\n%s", godebug, err, out)
			}
		})
	}
}

// checkCASTFailure asserts that a process died of Go's simulated CAST
// failure: exit status 2, the fatal error on its output, and no sign that
// main (or a test) ever ran.
func checkCASTFailure(t *testing.T, name string, out []byte, err error) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("failfipscast=%s: err = %v, want exit status 2\n%s", name, err, out)
	}
	want := "fatal error: FIPS 140-3 self-test failed: " + name + ": simulated CAST failure"
	if !bytes.Contains(out, []byte(want)) {
		t.Fatalf("failfipscast=%s: output lacks %q:\n%s", name, want, out)
	}
	if bytes.Contains(out, []byte("=== RUN")) || bytes.Contains(out, []byte(`"Profile"`)) {
		t.Fatalf("failfipscast=%s: the process ran before it died:\n%s", name, out)
	}
}

// runTestBinary runs this test binary again with extra environment.
func runTestBinary(t *testing.T, env string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(environWithout("GODEBUG"), env, "SEAL_FIPS_CHILD=1")
	return cmd.CombinedOutput()
}

func environWithout(key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// probeReport is what testdata/fipsprobe prints.
type probeReport struct {
	FIPSEnabled bool
	FIPSVersion string
	Profile     string
	SealAlg     int
	RoundTrip   bool
	Opened      map[string]bool
}

// TestFIPSBuild builds testdata/fipsprobe the way the fips profile ships
// (GOFIPS140=v1.26.0 go build) and runs it: FIPS mode is on by default,
// SelfTest passes, Seal uses algorithm 2, the algorithm 2 golden opens and
// the algorithm 1 golden does not; the same with GODEBUG=fips140=only. With
// GODEBUG=failfipscast=<name> the binary dies before main; with
// GODEBUG=fips140=off it runs the standard profile (an operator can turn
// FIPS mode off; Profile reports it).
func TestFIPSBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary with GOFIPS140; skipped in -short mode")
	}
	if os.Getenv("SEAL_FIPS_CHILD") != "" {
		t.Skip("child process")
	}
	goTool := goCommand(t)
	bin := filepath.Join(t.TempDir(), "fipsprobe")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command(goTool, "build", "-o", bin, "./testdata/fipsprobe")
	build.Env = append(environWithout("GOFIPS140"), "GOFIPS140="+fipsModule)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOFIPS140=%s go build: %v\n%s", fipsModule, err, out)
	}
	goldens := []string{goldenV1.path, goldenV1Alg2.path}
	run := func(godebug string) (probeReport, []byte, error) {
		cmd := exec.Command(bin, goldens...)
		cmd.Env = environWithout("GODEBUG")
		if godebug != "" {
			cmd.Env = append(cmd.Env, "GODEBUG="+godebug)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var r probeReport
		if err == nil {
			if jerr := json.Unmarshal(stdout.Bytes(), &r); jerr != nil {
				t.Fatalf("probe output %q: %v", stdout.Bytes(), jerr)
			}
		}
		return r, append(stdout.Bytes(), stderr.Bytes()...), err
	}

	r, out, err := run("")
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	want := probeReport{
		FIPSEnabled: true, FIPSVersion: fipsModule, Profile: "fips", SealAlg: 2, RoundTrip: true,
		Opened: map[string]bool{goldenV1.path: false, goldenV1Alg2.path: true},
	}
	if !probeEqual(r, want) {
		t.Errorf("GOFIPS140 binary: %+v\nwant %+v", r, want)
	}

	r, out, err = run("fips140=only")
	if err != nil {
		t.Fatalf("probe with fips140=only: %v\n%s", err, out)
	}
	if !probeEqual(r, want) {
		t.Errorf("GOFIPS140 binary with fips140=only: %+v\nwant %+v", r, want)
	}

	r, out, err = run("fips140=off")
	if err != nil {
		t.Fatalf("probe with fips140=off: %v\n%s", err, out)
	}
	want = probeReport{
		FIPSEnabled: false, FIPSVersion: fipsModule, Profile: "standard", SealAlg: 1, RoundTrip: true,
		Opened: map[string]bool{goldenV1.path: true, goldenV1Alg2.path: true},
	}
	if !probeEqual(r, want) {
		t.Errorf("GOFIPS140 binary with fips140=off: %+v\nwant %+v", r, want)
	}

	for _, name := range castNames {
		_, out, err := run("failfipscast=" + name)
		checkCASTFailure(t, name, out, err)
	}
}

func probeEqual(a, b probeReport) bool {
	if a.FIPSEnabled != b.FIPSEnabled || a.FIPSVersion != b.FIPSVersion || a.Profile != b.Profile ||
		a.SealAlg != b.SealAlg || a.RoundTrip != b.RoundTrip || len(a.Opened) != len(b.Opened) {
		return false
	}
	for k, v := range b.Opened {
		if got, ok := a.Opened[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// goCommand finds the go command, or skips the test.
func goCommand(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("no go command to build with GOFIPS140")
	return ""
}
