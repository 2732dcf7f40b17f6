package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient/gateway"
)

// ibdash monitor exit codes, as its help states:
//
//	0  healthy (--once), or stopped by a signal with no failed restart.
//	1  With --once: a port is not listening, is at or over the CLOSE_WAIT
//	   threshold, fails the probe, or could not be scanned. Without
//	   --once: a restart command failed during the run.
//	2  bad flags or config.
func init() {
	commands["monitor"] = command{
		summary: "watch IB Gateway's sockets and restart it when CLOSE_WAIT piles up (for systemd)",
		run:     runMonitor,
	}
}

const monitorHelp = `Counts the TCP sockets on the gateway ports (local port 4001, 4002, ...)
by state every --interval. When CLOSE_WAIT on a port stays at or over
--threshold, or the --probe handshake fails, for --consecutive scans in a
row, runs --restart-command, then waits --cooldown; at most --max-restarts
restarts an hour. The restart history is kept in --state-file. A port
with no listening socket is logged as a warning, and leads to a restart
only when --probe is on, because the probe then fails on it.

Flags override the [gateway] table of the config file; without a config
file the flags alone suffice. Events are logged to stderr, one logfmt line
each. When stderr is the journal stream of a systemd unit, each line
starts with its syslog priority (<3> error, <4> warning, <6> info), so
journalctl -p warning filters them, and has no timestamp of its own.

--restart-command is one string, split into arguments with shell-like
quoting ('single', "double", backslash). No shell runs it, so pipes,
redirections and $VARIABLES are rejected: put those in a script.

exit status: 0 healthy (with --once) or stopped by a signal; 1 with --once
when a port is not listening, is at or over the threshold, fails the
probe or cannot be scanned, and without --once when a restart command
failed; 2 bad usage or config.`

// monitorFlags contains the flag values. A field overrides the config file
// only when its flag was set on the command line.
type monitorFlags struct {
	ports          portList
	threshold      int
	restartCommand string
	once, asJSON   bool
	dryRun, probe  bool
	interval       time.Duration
	cooldown       time.Duration
	consecutive    int
	maxRestarts    int
	restartTimeout time.Duration
	process        string
	pid            int
	probeTimeout   time.Duration
	probeHost      string
	stateFile      string
	processRefresh time.Duration
	source         string
}

// portList is a repeatable --port flag that also takes "4001,4002".
type portList []int

func (p *portList) String() string {
	parts := make([]string, len(*p))
	for i, port := range *p {
		parts[i] = strconv.Itoa(port)
	}
	return strings.Join(parts, ",")
}

func (p *portList) Set(value string) error {
	for _, part := range strings.Split(value, ",") {
		port, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || port <= 0 || port > 65535 {
			return fmt.Errorf("%q is not a TCP port; use a number from 1 to 65535, such as 4001", part)
		}
		*p = append(*p, port)
	}
	return nil
}

func (f *monitorFlags) define(fs *flag.FlagSet) {
	fs.Var(&f.ports, "port", "gateway `port` to watch; repeat or separate with commas (4001 live, 4002 paper)")
	fs.IntVar(&f.threshold, "threshold", 0, "CLOSE_WAIT `count` per port at or over which a scan counts as bad (config default 20)")
	fs.StringVar(&f.restartCommand, "restart-command", "", "restart `command` as one string, such as \"systemctl restart ib-gateway\"; run without a shell")
	fs.BoolVar(&f.once, "once", false, "scan once, print the counts and exit")
	fs.BoolVar(&f.asJSON, "json", false, "with --once, print the scan as JSON")
	fs.BoolVar(&f.dryRun, "dry-run", false, "record and log restarts without running the command")
	fs.BoolVar(&f.probe, "probe", false, "also do the TWS API handshake on each port every scan; a failure counts as a bad scan")
	fs.DurationVar(&f.interval, "interval", 0, "time between scans, such as 5s (config default 5s)")
	fs.DurationVar(&f.cooldown, "cooldown", 0, "least time between the end of a restart and the next one (config default 5m)")
	fs.IntVar(&f.consecutive, "consecutive", 0, "bad scans in a row that trigger a restart (config default 3)")
	fs.IntVar(&f.maxRestarts, "max-restarts", 0, "most restarts in any hour (config default 3)")
	fs.DurationVar(&f.restartTimeout, "restart-timeout", 0, "time after which the restart command is killed (config default 2m)")
	fs.StringVar(&f.process, "process", "", "count sockets per process with this `name` (comm or program name, such as java)")
	fs.IntVar(&f.pid, "pid", 0, "count sockets per process for this `pid`")
	fs.DurationVar(&f.probeTimeout, "probe-timeout", 0, "time the probe waits for the server's version reply (config default 5s)")
	fs.StringVar(&f.probeHost, "probe-host", "", "`address` the probe connects to, such as 127.0.0.1 or ::1 (config default 127.0.0.1)")
	fs.StringVar(&f.stateFile, "state-file", "", "restart history `file` (config default $XDG_STATE_HOME/ibdash/gateway-restarts.json)")
	fs.DurationVar(&f.processRefresh, "process-refresh", 0, "how often the socket-to-process map is rebuilt; it is also rebuilt when the listening socket changes (config default 1m)")
	fs.StringVar(&f.source, "source", "auto", "socket table `source`: auto (netlink, else /proc), netlink or proc")
}

func runMonitor(ctx context.Context, env *environment, args []string) int {
	fs := env.newFlagSet("monitor", "monitor --port 4001 --threshold 20 --restart-command \"systemctl restart ib-gateway\" [--once] [--json] [--dry-run] [--probe]")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(env.stderr, "\n%s\n", monitorHelp)
	}
	var f monitorFlags
	f.define(fs)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	cfg, err := loadMonitorConfig(env)
	if err != nil {
		env.errorf("monitor: %v", err)
		return exitUsage
	}
	if err := f.apply(set, &cfg.Gateway); err != nil {
		return env.usageError(fs, "monitor: %v", err)
	}
	// The file passed this check when it was loaded, so a failure here
	// comes from a flag.
	if err := cfg.Validate(); err != nil {
		return env.usageError(fs, "monitor: %v", err)
	}
	if len(cfg.Gateway.Ports) == 0 {
		return env.usageError(fs, "monitor: no port to watch; pass --port 4001 (repeatable) or set ports in the [gateway] table")
	}
	if f.asJSON && !f.once {
		return env.usageError(fs, "monitor: --json needs --once; the watchdog itself logs to stderr")
	}

	opts := gatewayOptions(cfg.Gateway)
	if set["probe-host"] {
		opts.Scan.ProbeHost = f.probeHost
	}
	if set["process-refresh"] {
		opts.Scan.ProcessRefresh = f.processRefresh
	}
	if opts.Scan.Source, err = parseSource(f.source); err != nil {
		return env.usageError(fs, "monitor: %v", err)
	}
	if f.once {
		return monitorOnce(ctx, env, opts, f.asJSON)
	}
	return monitorRun(ctx, env, opts)
}

// loadMonitorConfig reads the config file. Without --config or
// $IBDASH_CONFIG, a missing default file means the built-in defaults,
// since monitor can run from flags alone.
func loadMonitorConfig(env *environment) (*config.Config, error) {
	explicit := env.configPath != "" || os.Getenv(config.EnvPath) != ""
	path := config.DefaultPath(env.configPath)
	if !explicit {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return config.Defaults(), nil
		}
	}
	return config.Load(path)
}

// apply copies the flags that were set into g, checking each value.
func (f *monitorFlags) apply(set map[string]bool, g *config.Gateway) error {
	atLeast := func(name string, v, least int) error {
		if set[name] && v < least {
			return fmt.Errorf("--%s %d must be at least %d", name, v, least)
		}
		return nil
	}
	for _, err := range []error{
		atLeast("threshold", f.threshold, 1),
		atLeast("consecutive", f.consecutive, 1),
		atLeast("max-restarts", f.maxRestarts, 1),
		atLeast("pid", f.pid, 0),
	} {
		if err != nil {
			return err
		}
	}
	for name, d := range map[string]time.Duration{"interval": f.interval, "restart-timeout": f.restartTimeout, "probe-timeout": f.probeTimeout, "process-refresh": f.processRefresh} {
		if set[name] && d <= 0 {
			return fmt.Errorf("--%s %s must be positive, such as 5s", name, d)
		}
	}
	if set["cooldown"] && f.cooldown < 0 {
		return fmt.Errorf("--cooldown %s must not be negative", f.cooldown)
	}

	if set["port"] {
		g.Ports = f.ports
	}
	if set["threshold"] {
		g.CloseWaitThreshold = f.threshold
	}
	if set["restart-command"] {
		argv, err := splitCommand(f.restartCommand)
		if err != nil {
			return fmt.Errorf("--restart-command: %w", err)
		}
		g.RestartCommand = argv
	}
	if set["dry-run"] {
		g.DryRun = f.dryRun
	}
	if set["probe"] {
		g.Probe = f.probe
	}
	if set["interval"] {
		g.Interval.Duration = f.interval
	}
	if set["cooldown"] {
		g.Cooldown.Duration = f.cooldown
	}
	if set["consecutive"] {
		g.ConsecutiveScans = f.consecutive
	}
	if set["max-restarts"] {
		g.MaxRestartsPerHour = f.maxRestarts
	}
	if set["restart-timeout"] {
		g.RestartTimeout.Duration = f.restartTimeout
	}
	if set["process"] {
		g.Process = f.process
	}
	if set["pid"] {
		g.PID = f.pid
	}
	if set["probe-timeout"] {
		g.ProbeTimeout.Duration = f.probeTimeout
	}
	if set["state-file"] {
		g.StateFile = f.stateFile
	}
	return nil
}

func parseSource(s string) (gateway.Source, error) {
	switch s {
	case "auto":
		return gateway.SourceAuto, nil
	case "netlink":
		return gateway.SourceNetlink, nil
	case "proc":
		return gateway.SourceProc, nil
	}
	return 0, fmt.Errorf("--source %q is not auto, netlink or proc", s)
}

// gatewayOptions maps the [gateway] table, with its defaults applied by
// package config, onto watchdog options, so the dashboard's wiring in
// this package can reuse it.
func gatewayOptions(g config.Gateway) gateway.Options {
	return gateway.Options{
		Ports:              g.Ports,
		CloseWaitThreshold: g.CloseWaitThreshold,
		ConsecutiveScans:   g.ConsecutiveScans,
		Interval:           g.Interval.Duration,
		Cooldown:           g.Cooldown.Duration,
		MaxRestartsPerHour: g.MaxRestartsPerHour,
		RestartCommand:     g.RestartCommand,
		RestartTimeout:     g.RestartTimeout.Duration,
		DryRun:             g.DryRun,
		StateFile:          g.StateFile,
		Scan: gateway.ScanOptions{
			Ports:          g.Ports,
			Process:        g.Process,
			PID:            g.PID,
			ProcessRefresh: g.ProcessRefresh.Duration,
			Probe:          g.Probe,
			ProbeHost:      g.ProbeHost,
			ProbeTimeout:   g.ProbeTimeout.Duration,
		},
	}
}

// monitorOnce scans once and prints the result.
func monitorOnce(ctx context.Context, env *environment, opts gateway.Options, asJSON bool) int {
	scanner, err := gateway.NewScanner(opts.Scan)
	if err != nil {
		env.errorf("monitor: %v", err)
		return exitUsage
	}
	defer scanner.Close()

	snap, err := scanner.Scan(ctx)
	if err != nil {
		env.errorf("monitor: %v", err)
		return exitFailure
	}
	healthy := true
	for _, p := range snap.Ports {
		if !p.Listening || p.CloseWait >= opts.CloseWaitThreshold || (p.Probe != nil && !p.Probe.OK) {
			healthy = false
		}
	}

	if asJSON {
		out := struct {
			gateway.Snapshot
			Threshold int  `json:"close_wait_threshold"`
			Healthy   bool `json:"healthy"`
		}{snap, opts.CloseWaitThreshold, healthy}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			env.errorf("monitor: %v", err)
			return exitFailure
		}
	} else {
		printSnapshot(env.stdout, snap, opts.CloseWaitThreshold)
	}
	if !healthy {
		return exitFailure
	}
	return exitOK
}

func printSnapshot(w io.Writer, snap gateway.Snapshot, threshold int) {
	for _, p := range snap.Ports {
		listening := "NOT LISTENING"
		if p.Listening {
			listening = "listening"
		}
		verdict := ""
		if p.CloseWait >= threshold {
			verdict = fmt.Sprintf("  OVER threshold %d", threshold)
		}
		fmt.Fprintf(w, "port %d  %s  %s%s\n", p.Port, listening, formatCounts(p.Counts), verdict)
		for _, proc := range p.Processes {
			fmt.Fprintf(w, "  pid %d %s  %s\n", proc.PID, proc.Name, formatCounts(proc.Counts))
		}
		if p.Unmapped > 0 {
			fmt.Fprintf(w, "  %d sockets not yet in the process map\n", p.Unmapped)
		}
		if p.Probe != nil {
			if p.Probe.OK {
				fmt.Fprintf(w, "  probe ok: server version %d in %s\n", p.Probe.ServerVersion, p.Probe.Latency.Round(time.Microsecond))
			} else {
				fmt.Fprintf(w, "  probe FAILED: %s\n", p.Probe.Error)
			}
		}
	}
	fmt.Fprintf(w, "read from %s in %s\n", snap.Source, snap.Duration.Round(time.Microsecond))
}

func formatCounts(c gateway.Counts) string {
	return fmt.Sprintf("ESTABLISHED %d  CLOSE_WAIT %d  TIME_WAIT %d  other %d", c.Established, c.CloseWait, c.TimeWait, c.Other)
}

// monitorRun runs the watchdog until a signal ends ctx.
func monitorRun(ctx context.Context, env *environment, opts gateway.Options) int {
	opts.Logger = newMonitorLogger(env.stderr)
	if len(opts.RestartCommand) == 0 {
		opts.Logger.Warn("no restart command configured; the watchdog will only report; pass --restart-command or set restart_command")
	}
	dog, err := gateway.New(opts)
	if err != nil {
		env.errorf("monitor: %v", err)
		return exitUsage
	}
	defer dog.Close()

	if err := dog.Run(ctx); err != nil {
		opts.Logger.Error("watchdog stopped", "error", err)
		return exitFailure
	}
	if dog.RestartFailed() {
		return exitFailure
	}
	return exitOK
}

// splitCommand splits s into arguments the way a POSIX shell splits
// words, but with no expansion. Whitespace separates arguments. 'Single
// quotes' keep everything literally. "Double quotes" keep everything but
// a backslash before " \ $ or `. A backslash outside quotes escapes the
// next character. An unquoted character that only a shell would act on
// (| & ; < > ( ) $ `) is rejected, since no shell runs the command.
func splitCommand(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			inWord = true
			end := indexRune(runes, i+1, '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(string(runes[i+1 : end]))
			i = end
		case r == '"':
			inWord = true
			closed := false
			for i++; i < len(runes); i++ {
				if runes[i] == '"' {
					closed = true
					break
				}
				if runes[i] == '\\' && i+1 < len(runes) && strings.ContainsRune("\"\\$`", runes[i+1]) {
					i++
				}
				cur.WriteRune(runes[i])
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
		case r == '\\':
			inWord = true
			if i+1 == len(runes) {
				return nil, fmt.Errorf("%q ends with a lone backslash", s)
			}
			i++
			cur.WriteRune(runes[i])
		case strings.ContainsRune("|&;<>()$`", r):
			return nil, fmt.Errorf("unquoted %q in %q needs a shell, which ibdash does not run; quote it, or put the commands in a script and give its path", r, s)
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, errors.New("the command is empty; give a program and its arguments, such as \"systemctl restart ib-gateway\"")
	}
	return args, nil
}

func indexRune(runes []rune, from int, r rune) int {
	for i := from; i < len(runes); i++ {
		if runes[i] == r {
			return i
		}
	}
	return -1
}
