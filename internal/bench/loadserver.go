package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServeProcess is `engram serve` run by the load benchmark as a child
// process on a temporary data directory that Close removes, so that its
// CPU can be read apart from the load generator's.
type ServeProcess struct {
	URL string
	Key string // the default tenant's owner key (admin.key)

	cmd  *exec.Cmd
	dir  string
	done chan struct{} // closed when the process exited
	err  error         // its exit status, once done

	mu   sync.Mutex
	tail []string // its last lines on stderr (logs hold no content)
}

// serveArgs are the child's fixed flags: a loopback port of the kernel's
// choosing, and no rate limits, since the benchmark's one client address
// and one key would otherwise measure the limiter (extra flags come after
// and may set them back).
var serveArgs = []string{"--addr", "127.0.0.1:0", "--log-format", "json", "--rate-limit-address", "0", "--rate-limit-key", "0"}

// StartServe runs bin (an engram binary) as `serve` with extra flags on a
// fresh data directory and returns once it answers /healthz. The child
// gets this process's environment without ENGRAM_* variables, so a
// deployment's settings (audit sinks, KEKs, models) never reach the
// benchmark's server: configure it through extra.
func StartServe(ctx context.Context, bin string, extra []string) (*ServeProcess, error) {
	return startServe(ctx, bin, extra, nodeSetup{})
}

// nodeSetup is what makes a child server one node of several: the store
// they share (passed as ENGRAM_STORE, so that a password in it is not on
// a command line) and the first node's key file. A node given a kek finds
// the owner key in the shared store and writes no admin.key.
type nodeSetup struct {
	store string
	kek   []byte
}

func startServe(ctx context.Context, bin string, extra []string, n nodeSetup) (*ServeProcess, error) {
	dir, err := os.MkdirTemp("", "engram-load-")
	if err != nil {
		return nil, err
	}
	if n.kek != nil {
		if err := os.WriteFile(filepath.Join(dir, "kek.key"), n.kek, 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	args := append(append([]string{"serve", "--data", dir}, serveArgs...), extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv(n.store)
	cmd.Stdout = io.Discard // the new owner key, also in admin.key
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &ServeProcess{cmd: cmd, dir: dir, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		// Read to the end, always: a full pipe would stall the server.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
			if rec.Msg != "request" {
				p.mu.Lock()
				p.tail = append(p.tail, line)
				if len(p.tail) > 20 {
					p.tail = p.tail[1:]
				}
				p.mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
		close(p.done)
	}()
	fail := func(err error) (*ServeProcess, error) {
		p.Close()
		return nil, fmt.Errorf("%w\n%s", err, p.stderrTail())
	}
	var a string
	select {
	case a = <-addr:
	case <-p.done:
		return fail(fmt.Errorf("serve exited before listening: %v", p.err))
	case <-time.After(2 * time.Minute):
		return fail(errors.New("serve did not listen within 2 minutes"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	p.URL = "http://" + a
	if n.kek == nil {
		key, err := os.ReadFile(filepath.Join(dir, "admin.key"))
		if err != nil {
			return fail(err)
		}
		p.Key = strings.TrimSpace(string(key))
	}
	for i := 0; ; i++ {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if i == 100 {
			return fail(fmt.Errorf("serve is not healthy: %v", err))
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-p.done:
			return fail(fmt.Errorf("serve exited: %v", p.err))
		}
	}
}

// childEnv is this process's environment without ENGRAM_* variables, and
// with ENGRAM_STORE=store when store is not empty.
func childEnv(store string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ENGRAM_") {
			env = append(env, kv)
		}
	}
	if store != "" {
		env = append(env, "ENGRAM_STORE="+store)
	}
	return env
}

func (p *ServeProcess) stderrTail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// CPU is the child's CPU seconds (user and system) so far.
func (p *ServeProcess) CPU() (float64, error) {
	return ProcCPU(strconv.Itoa(p.cmd.Process.Pid))
}

// Close stops the server (as a stop signal would: it drains) and removes
// its data directory.
func (p *ServeProcess) Close() error {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return os.RemoveAll(p.dir)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// ProcCPU reads the CPU seconds (user + system) of process pid ("self":
// this one) from /proc; it fails where there is no /proc.
func ProcCPU(pid string) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// ProcTreeCPU is the CPU seconds of process pid and its children so far
// (a PostgreSQL postmaster and its backends). A child that exited in
// between is no longer counted: for the pooled connections of a load that
// is a small undercount.
func ProcTreeCPU(pid int) (float64, error) {
	root, err := ProcCPU(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if ppid, err := parseProcParent(string(b)); err == nil && ppid == pid {
			if c, err := parseProcStat(string(b)); err == nil {
				root += c
			}
		}
	}
	return root, nil
}

// procFields splits a /proc/PID/stat line after the command name (field
// 2, in parentheses, which may hold spaces): the result's f[0] is field 3
// (state). It fails unless there are at least n fields from there.
func procFields(s string, n int) ([]string, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, errors.New("proc stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < n {
		return nil, errors.New("proc stat: too few fields")
	}
	return f, nil
}

// parseProcParent returns field 4 (ppid) of a /proc/PID/stat line.
func parseProcParent(s string) (int, error) {
	f, err := procFields(s, 2)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1])
}

// parseProcStat returns utime + stime (fields 14 and 15) in seconds from a
// /proc/PID/stat line.
func parseProcStat(s string) (float64, error) {
	f, err := procFields(s, 13)
	if err != nil {
		return 0, err
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("proc stat: bad times")
	}
	return float64(u+st) / clockTicks, nil
}

// MetricsCPU reads process_cpu_seconds_total from the server's /metrics
// (Prometheus text format), for a server the benchmark did not start.
func MetricsCPU(ctx context.Context, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	return parseMetricsCPU(io.LimitReader(resp.Body, 16<<20))
}

func parseMetricsCPU(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == "process_cpu_seconds_total" {
			return strconv.ParseFloat(strings.TrimSpace(val), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("metrics: no process_cpu_seconds_total")
}
