package main

import (
	"io"
	"log/slog"
	"testing"
)

// TestPprofLoopbackOnly: the profiles listener refuses any address but a
// loopback one.
func TestPprofLoopbackOnly(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:6060", "example.com:6060", "127.0.0.1"} {
		if stop, err := startPprof(addr, log); err == nil {
			stop()
			t.Fatalf("--pprof-addr %q accepted", addr)
		}
	}
	stop, err := startPprof("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	stop()
}
