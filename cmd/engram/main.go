// Command engram is Engram's one binary: the server, the operator commands
// that work offline against a data directory, and a client for the REST
// API. This package is the only place that wires the parts together.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// cli is the command tree.
type cli struct {
	Serve   serveCmd   `cmd:"" help:"Run the server."`
	Tenants tenantsCmd `cmd:"" help:"Administer tenants (offline, against --data)."`
	Members membersCmd `cmd:"" help:"Invite people into a tenant (offline, against --data)."`

	Deletions deletionsCmd `cmd:"" help:"Scheduled deletions of accounts and end users (offline, against --data)."`

	Add     addCmd     `cmd:"" help:"Store a memory."`
	Search  searchCmd  `cmd:"" help:"Search memories."`
	List    listCmd    `cmd:"" help:"List memories, newest first."`
	Get     getCmd     `cmd:"" help:"Show one memory."`
	Update  updateCmd  `cmd:"" help:"Replace a memory's text."`
	Delete  deleteCmd  `cmd:"" help:"Delete a memory."`
	History historyCmd `cmd:"" help:"Show a memory's history."`
	Keys    keysCmd    `cmd:"" help:"Manage API keys; rotate encryption keys (offline)."`
	Forget  forgetCmd  `cmd:"" help:"Forget an end user: destroy their key and delete their data."`
	KEK     kekCmd     `cmd:"" name:"kek" help:"Manage the key-encryption key (offline)."`
	Audit   auditCmd   `cmd:"" help:"Read the audit trail (client) and verify its chains (offline)."`
	Repair  repairCmd  `cmd:"" help:"Remove records that can no longer be decrypted (offline)."`
	Backup  backupCmd  `cmd:"" help:"Write a consistent backup of a node's database, sealed as stored (online, beside serve)."`
	Restore restoreCmd `cmd:"" help:"Restore a backup into a data directory, verify its audit chains, report a rollback (offline)."`
	Export  exportCmd  `cmd:"" help:"Verify a signed export (offline)."`
	Import  importCmd  `cmd:"" help:"Import an export (Engram's or mem0's) into a tenant (against --data, beside serve)."`
	MCP     mcpCmd     `cmd:"" name:"mcp" help:"Run an MCP server on stdio for desktop agents (talks to --url with ENGRAM_API_KEY)."`

	Observe  observeCmd  `cmd:"" help:"Observe a conversation: store it, extract entities and facts."`
	Entities entitiesCmd `cmd:"" help:"List, show and forget entities."`
	Facts    factsCmd    `cmd:"" help:"List and search facts."`

	Bench benchCmd `cmd:"" help:"Benchmarks."`

	Version kong.VersionFlag `help:"Print the version."`
}

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args and runs the command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr *os.File) int {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("engram"),
		kong.Description("Engram: secure, self-hostable memory for AI agents."),
		kong.UsageOnError(),
		kong.Vars{"version": version},
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitCode(code)) }),
	)
	if err != nil {
		fmt.Fprintln(stderr, "engram:", err)
		return 2
	}
	code := 0
	func() {
		defer func() {
			if v := recover(); v != nil {
				if ec, ok := v.(exitCode); ok {
					code = int(ec)
					return
				}
				panic(v)
			}
		}()
		kctx, perr := parser.Parse(args)
		if perr != nil {
			parser.Errorf("%s", perr)
			code = 2
			return
		}
		kctx.Bind(&ioStreams{out: stdout, err: stderr})
		if rerr := kctx.Run(); rerr != nil {
			code = report(stderr, rerr)
		}
	}()
	return code
}

type exitCode int

type ioStreams struct{ out, err *os.File }
