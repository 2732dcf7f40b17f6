package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// simOutput is a stream the sim command writes while the test reads it.
type simOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *simOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *simOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// runningSim is the sim command running in-process.
type runningSim struct {
	stdout, stderr *simOutput
	cancel         context.CancelFunc
	done           chan int
}

var simURLLine = regexp.MustCompile(`serving the IB Web API simulator at (\S+)`)

// startSimCommand runs `ibdash sim ARGS` until the test stops it, and
// waits until it prints the line that ends its start-up.
func startSimCommand(t *testing.T, args ...string) *runningSim {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningSim{stdout: &simOutput{}, stderr: &simOutput{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		r.done <- run(ctx, append([]string{"sim"}, args...), strings.NewReader(""), r.stdout, r.stderr)
	}()
	t.Cleanup(func() { r.stop(t) })

	// Generating the RSA keys of the first run takes a few seconds.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(r.stdout.String(), "press Ctrl-C to stop") {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("sim exited with %d before it was ready; stderr:\n%s", code, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sim not ready after 2 minutes; stdout:\n%s", r.stdout.String())
		}
	}
	return r
}

func (r *runningSim) url(t *testing.T) string {
	t.Helper()
	m := simURLLine.FindStringSubmatch(r.stdout.String())
	if m == nil {
		t.Fatalf("no URL in the output:\n%s", r.stdout.String())
	}
	return m[1]
}

// stop interrupts the command and returns its exit code.
func (r *runningSim) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("sim did not stop within 30 s of the interrupt")
		return -1
	}
}

func TestSimWritesConfigAndServes(t *testing.T) {
	dir := t.TempDir()
	r := startSimCommand(t, "--listen", "127.0.0.1:0", "--write-config", dir, "--bridge-delay", "0")
	baseURL := r.url(t)
	if !strings.HasPrefix(baseURL, "http://127.0.0.1:") {
		t.Errorf("URL %s is not on 127.0.0.1", baseURL)
	}
	path := filepath.Join(dir, "config.toml")
	if !strings.Contains(r.stdout.String(), "config written to "+path) {
		t.Errorf("output does not name the config path %s:\n%s", path, r.stdout.String())
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `signature_key = "DEMOTRADE/private_signature.pem"`) {
		t.Errorf("config key paths are not relative to the folder:\n%s", raw)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if cfg.BaseURL != baseURL {
		t.Errorf("base_url %s, want %s", cfg.BaseURL, baseURL)
	}
	if trading, ok := cfg.TradingConsumer(); !ok || trading.ConsumerKey != ibsim.DemoTradingKey {
		t.Errorf("trading consumer = %v, want %s", trading, ibsim.DemoTradingKey)
	}
	if len(cfg.Consumers) != 3 {
		t.Fatalf("config lists %d consumers, want 3 (trading, pending, test_realm)", len(cfg.Consumers))
	}
	realms := map[string]string{}
	for _, entry := range cfg.Consumers {
		realms[entry.ConsumerKey] = entry.Realm
	}
	wantRealms := map[string]string{
		ibsim.DemoTradingKey: ibclient.RealmLimitedPOA,
		ibsim.DemoPendingKey: ibclient.RealmLimitedPOA,
		ibsim.DemoTestKey:    ibclient.RealmTest,
	}
	for key, want := range wantRealms {
		if realms[key] != want {
			t.Errorf("consumer %s has realm %q, want %q", key, realms[key], want)
		}
	}
	for _, name := range []string{ibsim.DemoTradingKey + "/private_signature.pem", ibsim.DemoTradingKey + "/private_encryption.pem", "config.toml"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, info.Mode().Perm())
		}
	}

	var secrets []string
	base, _ := url.Parse(cfg.BaseURL)
	for _, entry := range cfg.Consumers {
		cons, _, err := entry.Load()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, entry.AccessTokenSecret, hex.EncodeToString(cons.Secret))
		lst, err := (&ibclient.Authenticator{Consumer: cons, BaseURL: base}).LiveSessionToken(context.Background())
		if entry.ConsumerKey == ibsim.DemoPendingKey {
			if !ibclient.IsKind(err, ibclient.KindInvalidConsumer) {
				t.Errorf("%s: error %v, want invalid consumer", entry.ConsumerKey, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", entry.ConsumerKey, err)
		}
		secrets = append(secrets, lst.Base64())

		hc := &http.Client{Transport: &ibclient.Transport{Source: ibclient.StaticToken{LST: lst}}, Timeout: 10 * time.Second}
		resp, err := hc.Post(cfg.BaseURL+"/iserver/auth/ssodh/init", "application/json", strings.NewReader(`{"publish":true,"compete":true}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = hc.Get(cfg.BaseURL + "/iserver/accounts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: /iserver/accounts status %d, want 200 with no bridge delay", entry.ConsumerKey, resp.StatusCode)
		}
	}

	if code := r.stop(t); code != exitOK {
		t.Errorf("exit code %d after the interrupt, want 0", code)
	}
	logged := r.stderr.String()
	for _, want := range []string{
		"method=POST path=/v1/api/oauth/live_session_token consumer=DEMOTRADE signing=RSA-SHA256 status=200",
		`path=/v1/api/iserver/accounts consumer=DEMOTRADE signing="HMAC-SHA256 V1" status=200`,
		`consumer=DEMOWAITS signing=RSA-SHA256 status=401 error="id: `,
	} {
		if !strings.Contains(logged, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logged)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(logged, secret) || strings.Contains(r.stdout.String(), secret) {
			t.Errorf("the output contains a secret (%d characters)", len(secret))
		}
	}

	// A second run over the same folder reuses the keys and rewrites its
	// own config for the new port.
	again := startSimCommand(t, "--listen", "127.0.0.1:0", "--write-config", dir)
	cfg2, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg2.BaseURL != again.url(t) {
		t.Errorf("rewritten base_url %s, want %s", cfg2.BaseURL, again.url(t))
	}
	if cfg2.Consumers[0].AccessToken != cfg.Consumers[0].AccessToken {
		t.Error("the second run generated a new access token")
	}
}

func TestSimKeepsForeignConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	foreign := []byte("base_url = \"https://api.ibkr.com/v1/api\"\n")
	if err := os.WriteFile(path, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr simOutput
	code := run(ctx, []string{"sim", "--write-config", dir}, strings.NewReader(""), &stdout, &stderr)
	if code != exitFailure {
		t.Errorf("exit code %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr.String(), "was not written by ibdash sim") {
		t.Errorf("stderr = %s", stderr.String())
	}
	if data, _ := os.ReadFile(path); !bytes.Equal(data, foreign) {
		t.Error("a config the simulator did not write was changed")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want only the foreign config: key files were written next to it", len(entries))
	}
}

func TestSimRejectsRemoteListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:5055", "example.com:80"} {
		var stdout, stderr simOutput
		code := run(context.Background(), []string{"sim", "--listen", addr}, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("--listen %s: exit code %d, want %d", addr, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), "--allow-remote") {
			t.Errorf("--listen %s: stderr does not mention --allow-remote: %s", addr, stderr.String())
		}
	}
	var stdout, stderr simOutput
	if code := run(context.Background(), []string{"sim", "--listen", "no-port"}, strings.NewReader(""), &stdout, &stderr); code != exitUsage {
		t.Errorf("--listen no-port: exit code %d, want %d", code, exitUsage)
	}
}

func TestSimFaultFlags(t *testing.T) {
	var stdout, stderr simOutput
	code := run(context.Background(), []string{"sim", "--fail-status", "404"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "not a 5xx status") {
		t.Errorf("--fail-status 404: exit code %d, stderr %s", code, stderr.String())
	}

	r := startSimCommand(t, "--keys", t.TempDir(), "--fail-status", "503", "--fault-path", "/tickle", "--fault-count", "2")
	for i, want := range []int{503, 503, 401} {
		resp, err := http.Get(r.url(t) + "/tickle")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("unsigned tickle %d: status %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(r.url(t) + "/iserver/auth/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a path outside --fault-path: status %d, want 401", resp.StatusCode)
	}
	if !strings.Contains(r.stderr.String(), "faults=server-error") {
		t.Errorf("the injected fault was not logged:\n%s", r.stderr.String())
	}
}

func TestSimSlowResponseFlag(t *testing.T) {
	r := startSimCommand(t, "--keys", t.TempDir(), "--slow-response", "1m", "--fault-path", "/tickle", "--fault-count", "1")

	impatient := &http.Client{Timeout: 300 * time.Millisecond}
	resp, err := impatient.Get(r.url(t) + "/tickle")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("tickle under a held response answered with status %d, want a client timeout", resp.StatusCode)
	}
	// A path outside --fault-path gets its response at once.
	resp, err = impatient.Get(r.url(t) + "/iserver/auth/status")
	if err != nil {
		t.Fatalf("a path outside --fault-path: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned auth/status: status %d, want 401", resp.StatusCode)
	}

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.stderr.String(), "faults=slow-response") {
		if time.Now().After(deadline) {
			t.Fatalf("the held response was not logged:\n%s", r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	var stdout, stderr simOutput
	if code := run(context.Background(), []string{"sim", "--slow-response", "-1s"}, strings.NewReader(""), &stdout, &stderr); code != exitUsage {
		t.Errorf("--slow-response -1s: exit code %d, want %d", code, exitUsage)
	}
}
