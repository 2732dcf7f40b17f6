package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// startAuthSim starts the simulator with the demo consumers and writes a
// config file that reaches it.
func startAuthSim(t *testing.T) (configPath string, demo *ibsim.Demo) {
	t.Helper()
	demo, err := ibsim.StartDemo(filepath.Join(t.TempDir(), "keys"), ibsim.Options{BridgeDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { demo.Close() })
	configPath = filepath.Join(t.TempDir(), "config.toml")
	if err := demo.Config.Write(configPath); err != nil {
		t.Fatal(err)
	}
	return configPath, demo
}

func TestAuthActiveConsumer(t *testing.T) {
	configPath, demo := startAuthSim(t)

	code, stdout, stderr := runCommand(t, "--config", configPath, "auth", "--consumer", ibsim.DemoTradingKey)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"oauth/live_session_token", "LST valid", "ssodh/init", "iserver/accounts", "authenticated=true", "POST logout", "All 1 consumers authenticated"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`ok in \d+(\.\d+)?(ms|s|µs)`).MatchString(stdout) {
		t.Errorf("output shows no step durations:\n%s", stdout)
	}
	cons, _ := demo.Config.Consumer(ibsim.DemoTradingKey)
	secret := strings.TrimSpace(cons.AccessTokenSecret)
	if strings.Contains(stdout+stderr, secret[:24]) {
		t.Error("output contains the access token secret")
	}
}

func TestAuthPendingConsumer(t *testing.T) {
	configPath, _ := startAuthSim(t)

	code, stdout, _ := runCommand(t, "--config", configPath, "auth", "--consumer", ibsim.DemoPendingKey)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailure, stdout)
	}
	if !strings.Contains(stdout, "kind:       invalid consumer") {
		t.Errorf("output lacks the decoded kind:\n%s", stdout)
	}
	if !regexp.MustCompile(`request id: \d+`).MatchString(stdout) {
		t.Errorf("output lacks the request id:\n%s", stdout)
	}
	if !strings.Contains(stdout, "message:    invalid consumer") {
		t.Errorf("output lacks IB's message:\n%s", stdout)
	}
	if !regexp.MustCompile(`next step:  .*weekend`).MatchString(stdout) {
		t.Errorf("output lacks the next step about the weekend restart:\n%s", stdout)
	}
	if !strings.Contains(stdout, "activation: expected after") {
		t.Errorf("output lacks the expected activation time:\n%s", stdout)
	}
	if strings.Contains(stdout, "ssodh/init") {
		t.Errorf("the session start ran after the LST failed:\n%s", stdout)
	}
}

func TestAuthWarnsLooseKeyFile(t *testing.T) {
	configPath, demo := startAuthSim(t)
	cons, _ := demo.Config.Consumer(ibsim.DemoTradingKey)
	if err := os.Chmod(cons.SignatureKey, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCommand(t, "--config", configPath, "auth", "--consumer", ibsim.DemoTradingKey)
	if code != exitOK {
		t.Fatalf("exit %d, want %d: a loose mode is a warning, not a failure\n%s", code, exitOK, stdout)
	}
	if !strings.Contains(stdout, "warning: "+cons.SignatureKey+" is readable by group or others") || !strings.Contains(stdout, "chmod 600") {
		t.Errorf("output lacks the file mode warning:\n%s", stdout)
	}
}

func TestAuthWarnsLowerCaseKey(t *testing.T) {
	_, demo := startAuthSim(t)
	cfg := *demo.Config
	cfg.Consumers = []config.Consumer{demo.Config.Consumers[0]}
	cfg.Consumers[0].ConsumerKey = strings.ToLower(ibsim.DemoTradingKey)
	configPath := filepath.Join(t.TempDir(), "config.toml")
	if err := cfg.Write(configPath); err != nil {
		t.Fatal(err)
	}

	code, stdout, _ := runCommand(t, "--config", configPath, "auth")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailure, stdout)
	}
	if !strings.Contains(stdout, "has lower-case letters") || !strings.Contains(stdout, `use "`+ibsim.DemoTradingKey+`"`) {
		t.Errorf("output lacks the lower-case key warning with the fix:\n%s", stdout)
	}
	if !strings.Contains(stdout, "kind:       invalid consumer") {
		t.Errorf("output lacks IB's invalid consumer error:\n%s", stdout)
	}
}

func TestAuthAllConsumersOneFails(t *testing.T) {
	configPath, _ := startAuthSim(t)
	code, stdout, _ := runCommand(t, "--config", configPath, "auth")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stdout, "1 of 3 consumers failed") {
		t.Errorf("summary missing:\n%s", stdout)
	}
}

func TestAuthUsageErrors(t *testing.T) {
	configPath, _ := startAuthSim(t)
	if code, _, stderr := runCommand(t, "--config", configPath, "auth", "--consumer", "NOSUCHKEY"); code != exitUsage || !strings.Contains(stderr, "NOSUCHKEY") {
		t.Errorf("unknown consumer: exit %d, %s", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("base_url = 1\n"), 0o600)
	if code, _, stderr := runCommand(t, "--config", bad, "auth"); code != exitUsage || !strings.Contains(stderr, "bad.toml") {
		t.Errorf("bad config: exit %d, %s", code, stderr)
	}
	if code, _, _ := runCommand(t, "--config", filepath.Join(t.TempDir(), "none.toml"), "auth"); code != exitUsage {
		t.Errorf("missing config: exit %d, want %d", code, exitUsage)
	}
}

func TestAuthBrokenKeyFile(t *testing.T) {
	configPath, demo := startAuthSim(t)
	cons, _ := demo.Config.Consumer(ibsim.DemoTradingKey)
	if err := os.WriteFile(cons.SignatureKey, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCommand(t, "--config", configPath, "auth", "--consumer", ibsim.DemoTradingKey)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stdout, cons.SignatureKey) || !strings.Contains(stdout, "invalid PKCS#8") {
		t.Errorf("output does not name the broken file:\n%s", stdout)
	}
}

// TestAuthLogsOutAfterLaterFailure makes the accounts step fail after
// ssodh/init started a brokerage session, which must not be left open to
// compete with the dashboard or TWS.
func TestAuthLogsOutAfterLaterFailure(t *testing.T) {
	configPath, demo := startAuthSim(t)
	if _, err := demo.Server.AddFault(ibsim.Fault{Kind: ibsim.FaultServerError, Status: 500, PathPrefix: "/iserver/accounts"}); err != nil {
		t.Fatal(err)
	}

	code, stdout, _ := runCommand(t, "--config", configPath, "auth", "--consumer", ibsim.DemoTradingKey)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailure, stdout)
	}
	if !strings.Contains(stdout, "POST logout") {
		t.Errorf("output shows no logout after the failure:\n%s", stdout)
	}
	if demo.Server.Session(ibsim.DemoTradingKey).Initialized {
		t.Error("the brokerage session is still open after auth failed")
	}
}
