package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

func init() {
	commands["sim"] = command{
		summary: "serve the IB Web API simulator with the demo consumers; --write-config writes a config that reaches it",
		run:     runSim,
	}
}

// simConfigName is the config file --write-config writes.
const simConfigName = "config.toml"

// simFlags are the sim command's settings.
type simFlags struct {
	listen      string
	allowRemote bool
	writeConfig string
	keys        string
	seed        uint64
	bridgeDelay time.Duration
	penalty     time.Duration

	latency      time.Duration
	slowResponse time.Duration
	failStatus   int
	malformed    bool
	truncate     bool
	reset        bool
	expireLST    bool
	dropSession  bool
	faultPath    string
	faultCount   int
}

func runSim(ctx context.Context, env *environment, args []string) int {
	fs := env.newFlagSet("sim", "sim [--listen HOST:PORT] [--write-config DIR] [fault flags]")
	var f simFlags
	fs.StringVar(&f.listen, "listen", "127.0.0.1:0", "`address` to serve on; port 0 picks a free port")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow a --listen address that is not loopback; the simulator has no TLS, so use it only on a trusted network")
	fs.StringVar(&f.writeConfig, "write-config", "", "write config.toml and the demo consumers' key files into `dir`")
	fs.StringVar(&f.keys, "keys", "", "`dir` for the demo consumers' key files when --write-config is not given (default $XDG_CACHE_HOME/ibdash/demo-keys)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the price walk, the option conids and the ids")
	fs.DurationVar(&f.bridgeDelay, "bridge-delay", ibsim.DefaultBridgeDelay, "time from ssodh/init until /iserver responds")
	fs.DurationVar(&f.penalty, "penalty", ibsim.DefaultPenaltyDuration, "how long a client that keeps breaking the rate limits gets 429")
	fs.DurationVar(&f.latency, "latency", 0, "hold every matching request back by this `duration` before it runs; a client that gives up meanwhile leaves no effect")
	fs.DurationVar(&f.slowResponse, "slow-response", 0, "run every matching request, then hold its response back by this `duration` (the request takes effect even if the client gives up)")
	fs.IntVar(&f.failStatus, "fail-status", 0, "respond to matching requests with this 5xx `status` and an HTML page")
	fs.BoolVar(&f.malformed, "malformed-json", false, "send responses to matching requests with bodies that are not valid JSON")
	fs.BoolVar(&f.truncate, "truncate-body", false, "cut responses to matching requests off halfway and close the connection")
	fs.BoolVar(&f.reset, "reset-connection", false, "reset the connection instead of responding to matching requests (the request still takes effect)")
	fs.BoolVar(&f.expireLST, "expire-lst", false, "expire the caller's live session token on matching requests")
	fs.BoolVar(&f.dropSession, "drop-session", false, "drop the caller's brokerage session on matching requests")
	fs.StringVar(&f.faultPath, "fault-path", "", "apply the fault flags only to paths below /v1/api that start with `prefix`, such as /iserver/marketdata")
	fs.IntVar(&f.faultCount, "fault-count", 0, "how many matching requests each fault flag hits; 0 means every one")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}

	if err := checkListenAddress(f.listen, f.allowRemote); err != nil {
		return env.usageError(fs, "sim: %v", err)
	}
	if f.bridgeDelay < 0 || f.penalty <= 0 || f.faultCount < 0 || f.latency < 0 || f.slowResponse < 0 {
		return env.usageError(fs, "sim: --bridge-delay, --latency, --slow-response and --fault-count must not be negative, and --penalty must be positive")
	}

	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	bridgeDelay := f.bridgeDelay
	if bridgeDelay == 0 {
		bridgeDelay = -1 // Options read 0 as the default and a negative value as none
	}
	sim := ibsim.New(ibsim.Options{Seed: f.seed, Logger: logger, BridgeDelay: bridgeDelay, PenaltyDuration: f.penalty})
	for _, fault := range f.faults() {
		if _, err := sim.AddFault(fault); err != nil {
			return env.usageError(fs, "sim: %v", err)
		}
	}

	if f.writeConfig != "" {
		if err := checkSimConfigFolder(f.writeConfig); err != nil {
			env.errorf("sim: %v", err)
			return exitFailure
		}
	}

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		env.errorf("sim: cannot listen on %s: %v", f.listen, err)
		return exitFailure
	}
	inst := sim.Serve(ln)
	defer func() {
		if err := inst.Close(); err != nil {
			env.errorf("sim: stopping: %v", err)
		}
	}()

	dir := f.keys
	if f.writeConfig != "" {
		dir = f.writeConfig
	}
	if dir == "" {
		dir = ibsim.DefaultDemoDir()
	}
	cfg, err := ibsim.WriteDemoKeys(dir, inst.URL)
	if err == nil {
		err = sim.AddDemoConsumers(cfg)
	}
	if err != nil {
		env.errorf("sim: demo consumers: %v", err)
		return exitFailure
	}

	fmt.Fprintf(env.stdout, "ibdash sim: serving the IB Web API simulator at %s\n", inst.URL)
	if f.writeConfig != "" {
		path, err := writeSimConfig(cfg, f.writeConfig)
		if err != nil {
			env.errorf("sim: %v", err)
			return exitFailure
		}
		fmt.Fprintf(env.stdout, "ibdash sim: config written to %s\n", path)
		fmt.Fprintf(env.stdout, "ibdash sim: try `ibdash --config %s auth`\n", path)
	} else {
		fmt.Fprintf(env.stdout, "ibdash sim: key files in %s (pass --write-config DIR for a config file)\n", dir)
	}
	pendingUntil := ibclient.NextWeekendMaintenance(sim.Now()).End
	fmt.Fprintf(env.stdout, "ibdash sim: consumers %s (active, trading), %s (pending until %s), %s (active, test_realm)\n",
		ibsim.DemoTradingKey, ibsim.DemoPendingKey, pendingUntil.Format("Mon 2006-01-02 15:04 MST"), ibsim.DemoTestKey)
	fmt.Fprintln(env.stdout, "ibdash sim: press Ctrl-C to stop")

	<-ctx.Done()
	logger.Info("simulator stopping")
	return exitOK
}

// faults turns the fault flags into faults scoped by --fault-path and
// --fault-count.
func (f *simFlags) faults() []ibsim.Fault {
	var out []ibsim.Fault
	add := func(on bool, fault ibsim.Fault) {
		if on {
			fault.PathPrefix, fault.Count = f.faultPath, f.faultCount
			out = append(out, fault)
		}
	}
	add(f.latency > 0, ibsim.Fault{Kind: ibsim.FaultLatency, Latency: f.latency})
	add(f.slowResponse > 0, ibsim.Fault{Kind: ibsim.FaultSlowResponse, Latency: f.slowResponse})
	add(f.failStatus != 0, ibsim.Fault{Kind: ibsim.FaultServerError, Status: f.failStatus})
	add(f.malformed, ibsim.Fault{Kind: ibsim.FaultMalformedJSON})
	add(f.truncate, ibsim.Fault{Kind: ibsim.FaultTruncatedBody})
	add(f.reset, ibsim.Fault{Kind: ibsim.FaultConnectionReset})
	add(f.expireLST, ibsim.Fault{Kind: ibsim.FaultLSTExpired})
	add(f.dropSession, ibsim.Fault{Kind: ibsim.FaultSessionDropped})
	return out
}

// checkListenAddress rejects an address that is not loopback unless
// allowRemote is set, since the simulator speaks plain HTTP and hands out
// sessions to anyone with the demo keys.
func checkListenAddress(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q is not HOST:PORT, such as 127.0.0.1:5055", addr)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--listen %q is not a loopback address; use 127.0.0.1 or [::1], or add --allow-remote to serve other hosts", addr)
}

// checkSimConfigFolder fails when dir holds a config.toml that the
// simulator did not write, before any key file is put next to it.
func checkSimConfigFolder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	path := filepath.Join(abs, simConfigName)
	if _, err := os.Lstat(path); err == nil && !isSimConfig(path, abs) {
		return fmt.Errorf("%s exists and was not written by ibdash sim; remove it or choose another --write-config folder", path)
	}
	return nil
}

// writeSimConfig writes dir/config.toml with key paths relative to dir.
// An existing file is replaced only when it is a simulator config for
// the same folder, so a real config is never overwritten.
func writeSimConfig(cfg *config.Config, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(abs, simConfigName)

	// The defaults are written out so the file shows what can be set. The
	// state and audit paths stay empty, so each machine picks its own.
	defaults := config.Defaults()
	out := *cfg
	out.Compete = defaults.Compete
	out.Gateway = defaults.Gateway
	out.Gateway.StateFile = ""
	out.Orders = defaults.Orders
	out.Orders.AuditLog = ""
	out.Consumers = slices.Clone(cfg.Consumers)
	for i := range out.Consumers {
		c := &out.Consumers[i]
		for _, p := range []*string{&c.SignatureKey, &c.EncryptionKey, &c.DHParams} {
			if rel, err := filepath.Rel(abs, *p); err == nil && !strings.HasPrefix(rel, "..") {
				*p = rel
			}
		}
	}

	if _, err := os.Lstat(path); err != nil {
		return path, out.Write(path)
	}
	if err := checkSimConfigFolder(abs); err != nil {
		return "", err
	}
	tmp := path + ".new"
	_ = os.Remove(tmp) // a leftover of an interrupted run
	if err := out.Write(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", errors.Join(err, os.Remove(tmp))
	}
	return path, nil
}

// isSimConfig reports whether the config at path lists exactly the demo
// consumers with their key files inside dir.
func isSimConfig(path, dir string) bool {
	old, err := config.Load(path)
	if err != nil || len(old.Consumers) != 3 {
		return false
	}
	for i, key := range []string{ibsim.DemoTradingKey, ibsim.DemoPendingKey, ibsim.DemoTestKey} {
		c := old.Consumers[i]
		if c.ConsumerKey != key || filepath.Dir(c.SignatureKey) != filepath.Join(dir, key) {
			return false
		}
	}
	return true
}
