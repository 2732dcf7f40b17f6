// Command ibdash is a terminal dashboard for the Interactive Brokers Web
// API over OAuth 1.0a and for the health of a local IB Gateway.
//
// Run `ibdash help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1 // the operation ran and failed
	exitUsage   = 2 // bad flags, arguments or config
)

// command is one subcommand. Files register theirs in init.
type command struct {
	summary string
	run     func(ctx context.Context, env *environment, args []string) int
}

var commands = map[string]command{}

// environment carries the global flags and the process streams.
type environment struct {
	configPath string
	debugPath  string
	demo       bool

	stdin          io.Reader
	stdout, stderr io.Writer
	logger         *slog.Logger
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &environment{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("ibdash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env.addGlobalFlags(fs)
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}

	rest := fs.Args()
	name := "dashboard"
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if name == "help" {
		usage(stdout)
		return exitOK
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "ibdash: unknown command %q; run `ibdash help` for the list\n", name)
		return exitUsage
	}

	closeLog, err := env.openLog()
	if err != nil {
		fmt.Fprintf(stderr, "ibdash: %v\n", err)
		return exitUsage
	}
	defer closeLog()
	return cmd.run(ctx, env, rest)
}

// addGlobalFlags defines the flags every subcommand accepts, so they may
// come before or after the subcommand name.
func (env *environment) addGlobalFlags(fs *flag.FlagSet) {
	fs.StringVar(&env.configPath, "config", env.configPath, "config file `path` (default $IBDASH_CONFIG or $XDG_CONFIG_HOME/ibdash/config.toml)")
	fs.StringVar(&env.debugPath, "debug", env.debugPath, "write a debug log to `file`")
	fs.BoolVar(&env.demo, "demo", env.demo, "run against the embedded simulator with generated keys; needs no IB account")
}

// newFlagSet returns a flag set for a subcommand with the global flags.
func (env *environment) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("ibdash "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	env.addGlobalFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: ibdash %s\n\n%s\n\nflags:\n", synopsis, commands[name].summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and returns the exit code to use when parsing
// stops the command (help or a bad flag), or -1 to go on. -h prints the
// whole help. A bad flag prints its error and a pointer to -h, so that
// the error is not lost above a page of help.
func parseFlags(fs *flag.FlagSet, args []string) int {
	// The flag package prints the error and the help itself; both are
	// held back here and printed below as the outcome requires.
	output, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(output)
	fs.Usage = usage

	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return exitOK
	case err != nil:
		fmt.Fprintf(output, "%s: %v\n", fs.Name(), err)
		printHelpPointer(output, fs)
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(output, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		printHelpPointer(output, fs)
		return exitUsage
	}
	return -1
}

// printHelpPointer prints the one line that follows a usage error: the
// command that shows the flags of fs.
func printHelpPointer(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Run `%s -h` for its flags.\n", fs.Name())
}

// usageError prints a usage error of the command whose flags fs holds,
// such as a flag value out of range, with the pointer to its help, and
// returns exitUsage.
func (env *environment) usageError(fs *flag.FlagSet, format string, args ...any) int {
	env.errorf(format, args...)
	printHelpPointer(env.stderr, fs)
	return exitUsage
}

// openLog sets env.logger: a text log in the --debug file, or a logger
// that drops everything, so nothing reaches a terminal the TUI owns.
func (env *environment) openLog() (func(), error) {
	if env.debugPath == "" {
		env.logger = slog.New(slog.DiscardHandler)
		return func() {}, nil
	}
	f, err := os.OpenFile(env.debugPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open debug log: %w", err)
	}
	env.logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fmt.Fprintf(env.stderr, "ibdash: debug log: %s\n", env.debugPath)
	return func() { f.Close() }, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ibdash [--config PATH] [--debug FILE] [--demo] [command] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Without a command, ibdash opens the dashboard.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `ibdash COMMAND -h` for the flags of one command.")
}

// errorf prints an ibdash error line to stderr.
func (env *environment) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasPrefix(msg, "ibdash") {
		msg = "ibdash: " + msg
	}
	fmt.Fprintln(env.stderr, msg)
}
