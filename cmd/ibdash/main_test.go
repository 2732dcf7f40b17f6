package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagErrorsPointAtHelp checks every subcommand's output for a bad flag:
// the error and one line that points at the command's -h, with the help
// itself left out so that the error stays in sight.
func TestFlagErrorsPointAtHelp(t *testing.T) {
	cfg := emptyConfig(t, "")
	cases := []struct {
		name    string
		args    []string
		command string
		want    string
	}{
		{"monitor port out of range", []string{"monitor", "--port", "70000"}, "monitor", `"70000" is not a TCP port`},
		{"monitor threshold zero", []string{"monitor", "--port", "4001", "--threshold", "0"}, "monitor", "--threshold 0 must be at least 1"},
		{"monitor interval too short", []string{"monitor", "--port", "4001", "--interval", "1ms"}, "monitor", "gateway.interval 1ms is too short"},
		{"monitor bad duration", []string{"monitor", "--interval", "soon"}, "monitor", `invalid value "soon" for flag -interval`},
		{"monitor unknown flag", []string{"monitor", "--thresold", "5"}, "monitor", "flag provided but not defined: -thresold"},
		{"monitor argument", []string{"monitor", "--port", "4001", "extra"}, "monitor", `unexpected argument "extra"`},
		{"auth unknown flag", []string{"auth", "--consumers", "X"}, "auth", "flag provided but not defined: -consumers"},
		{"keygen small prime", []string{"keygen", "--dir", t.TempDir(), "--dh-bits", "64"}, "keygen", "--dh-bits 64 is too small"},
		{"keygen no dir", []string{"keygen"}, "keygen", "--dir is required"},
		{"sim remote address", []string{"sim", "--listen", "192.0.2.1:0"}, "sim", "192.0.2.1"},
		{"sim negative latency", []string{"sim", "--latency", "-1s"}, "sim", "must not be negative"},
		{"order limit and market", []string{"order", "--market", "--limit", "1.00"}, "order", "exclude each other"},
		{"order bad flag value", []string{"order", "--yes=maybe"}, "order", `invalid boolean value "maybe" for -yes`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCommand(t, append([]string{"--config", cfg}, c.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr lacks the error %q:\n%s", c.want, stderr)
			}
			pointer := "Run `ibdash " + c.command + " -h` for its flags."
			if !strings.Contains(stderr, pointer) {
				t.Errorf("stderr lacks %q:\n%s", pointer, stderr)
			}
			if strings.Contains(stderr, "usage:") || strings.Contains(stderr, "flags:") {
				t.Errorf("stderr contains the help:\n%s", stderr)
			}
			if lines := strings.Count(stderr, "\n"); lines != 2 {
				t.Errorf("stderr has %d lines, want the error and the pointer:\n%s", lines, stderr)
			}
		})
	}
}

func TestHelpFlagPrintsHelp(t *testing.T) {
	code, _, stderr := runCommand(t, "--config", filepath.Join(t.TempDir(), "none.toml"), "monitor", "-h")
	if code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
	for _, want := range []string{"usage: ibdash monitor", "flags:", "-threshold", "exit status:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("help lacks %q:\n%s", want, stderr)
		}
	}
}
