package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
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
	for _, want := range []string{"oauth/live_session_token", "LST valid", "ssodh/init", "iserver/accounts", "authenticated=true", "POST logout", "Consumer " + ibsim.DemoTradingKey + " authenticated."} {
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
	// The dashboard's countdown form, such as "15h 07m" or "2d 4h".
	if !regexp.MustCompile(`\(in (\d+d \d+h|\d+h \d\dm|\d+m \d\ds|\d+s)\)`).MatchString(stdout) {
		t.Errorf("output lacks the time to activation in the dashboard's form:\n%s", stdout)
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
	if !strings.Contains(stdout, "kind:       misconfigured") {
		t.Errorf("output does not call the key misconfigured:\n%s", stdout)
	}
	if !strings.Contains(stdout, "invalid consumer") {
		t.Errorf("output lacks IB's invalid consumer error:\n%s", stdout)
	}
	if !strings.Contains(stdout, `next step:  set consumer_key = "`+ibsim.DemoTradingKey+`"`) {
		t.Errorf("output lacks the upper-case key as the next step:\n%s", stdout)
	}
	if strings.Contains(stdout, "activation:") || strings.Contains(stdout, "weekend") {
		t.Errorf("output promises an activation for a key that cannot activate:\n%s", stdout)
	}
}

// TestLSTStatusLowerCaseKey feeds the dashboard's lstStatus the outcome of
// a real LST request for a lower-case key, as the trading session's OnLST
// hook hands it over.
func TestLSTStatusLowerCaseKey(t *testing.T) {
	_, demo := startAuthSim(t)
	cons, _ := demo.Config.Consumer(ibsim.DemoTradingKey)
	lower := *cons
	lower.ConsumerKey = strings.ToLower(ibsim.DemoTradingKey)
	consumer, _, err := lower.Load()
	if err != nil {
		t.Fatal(err)
	}
	base, err := url.Parse(demo.Config.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	_, lstErr := (&ibclient.Authenticator{Consumer: consumer, BaseURL: base}).LiveSessionToken(context.Background())
	if lstErr == nil {
		t.Fatal("the simulator accepted a lower-case key")
	}

	status := lstStatus(lower.ConsumerKey, lstErr, time.Now())
	if status.State != ibclient.KeyMisconfigured {
		t.Errorf("state = %s (%v), want misconfigured", status.State, status.Err)
	}
	if !status.ExpectedActivation.IsZero() {
		t.Errorf("expected activation = %s, want none", status.ExpectedActivation)
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
	code, _, stderr := runCommand(t, "--config", filepath.Join(t.TempDir(), "none.toml"), "auth")
	if code != exitUsage {
		t.Errorf("missing config: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, "none.toml does not exist") || strings.Contains(stderr, "pass --config") {
		t.Errorf("missing config: stderr should name the file and not suggest --config, which was given:\n%s", stderr)
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
