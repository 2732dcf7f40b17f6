package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"
)

const sampleConfig = `
base_url = "http://127.0.0.1:5000/v1/api"
account_id = "DU1234567"

[[consumers]]
consumer_key = "BEARHEDGE"
access_token = "9f3c1e7a5b2d4f6081ac"
access_token_secret = "c2VjcmV0"
signature_key = "keys/private_signature.pem"
encryption_key = "/abs/private_encryption.pem"
dh_params = "dhparam.pem"
trading = true

[[consumers]]
consumer_key = "TESTCONS"
realm = "test_realm"
access_token = "t"
access_token_secret = "s"
signature_key = "a.pem"
encryption_key = "b.pem"
dh_params = "c.pem"

[gateway]
ports = [4001, 4002]
close_wait_threshold = 25
restart_command = ["systemctl", "restart", "ib-gateway"]
cooldown = "10m"
interval = "2s"

[orders]
max_quantity = 5
audit_log = "orders.jsonl"
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSample(t *testing.T) {
	path := writeConfig(t, sampleConfig)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)

	if len(c.Consumers) != 2 {
		t.Fatalf("%d consumers, want 2", len(c.Consumers))
	}
	first := c.Consumers[0]
	if first.Realm != "limited_poa" {
		t.Errorf("default realm = %q, want limited_poa", first.Realm)
	}
	if want := filepath.Join(dir, "keys/private_signature.pem"); first.SignatureKey != want {
		t.Errorf("signature_key = %s, want %s (relative to the config file)", first.SignatureKey, want)
	}
	if first.EncryptionKey != "/abs/private_encryption.pem" {
		t.Errorf("absolute encryption_key changed to %s", first.EncryptionKey)
	}
	if got, _ := c.TradingConsumer(); got.ConsumerKey != "BEARHEDGE" {
		t.Errorf("trading consumer = %s", got.ConsumerKey)
	}
	if c.Gateway.Cooldown.Duration != 10*time.Minute || c.Gateway.Interval.Duration != 2*time.Second {
		t.Errorf("durations = %v, %v", c.Gateway.Cooldown, c.Gateway.Interval)
	}
	if c.Gateway.ConsecutiveScans != 3 {
		t.Errorf("consecutive_scans default = %d, want 3", c.Gateway.ConsecutiveScans)
	}
	if c.Orders.AuditLog != filepath.Join(dir, "orders.jsonl") {
		t.Errorf("audit_log = %s", c.Orders.AuditLog)
	}
	if !c.CompeteValue() {
		t.Error("compete defaults to false, want true")
	}
}

func TestLoadRejects(t *testing.T) {
	valid := strings.Replace(sampleConfig, `[[consumers]]
consumer_key = "TESTCONS"`, `[[consumers]]
consumer_key = "TESTCONS2"`, 1)
	cases := []struct {
		name, text, want string
	}{
		{"unknown key", sampleConfig + "\nbase_ulr = \"x\"\n", "unknown key orders.base_ulr (did you mean base_url, above the first table?); check its spelling"},
		{"syntax", "base_url = \n", "config.toml"},
		{"bad url", strings.Replace(sampleConfig, "http://127.0.0.1:5000/v1/api", "ftp://x", 1), `base_url "ftp://x"`},
		{"test realm on other key", valid, "test_realm is only for TESTCONS"},
		{"missing token", strings.Replace(sampleConfig, `access_token = "t"`, "", 1), "consumer TESTCONS: access_token is missing"},
		{"bad realm", strings.Replace(sampleConfig, `realm = "test_realm"`, `realm = "paper"`, 1), `realm "paper"`},
		{"two trading", strings.Replace(sampleConfig, `dh_params = "c.pem"`, "dh_params = \"c.pem\"\ntrading = true", 1), "more than one consumer"},
		{"bad port", strings.Replace(sampleConfig, "4002", "70000", 1), "70000 is not a TCP port"},
		{"bad duration", strings.Replace(sampleConfig, `"10m"`, `"10 minutes"`, 1), "invalid duration"},
		{"zero quantity", strings.Replace(sampleConfig, "max_quantity = 5", "max_quantity = -1", 1), "max_quantity -1"},
		{"duplicate consumer", strings.Replace(sampleConfig, `"TESTCONS"`, `"BEARHEDGE"`, 1), "appears twice"},
		// The portal upper-cases keys, so these two are one key.
		{"duplicate in lower case", strings.Replace(sampleConfig, `"TESTCONS"`, `"bearhedge"`, 1), "appears twice"},
		{"consumer key with space", strings.Replace(sampleConfig, `"BEARHEDGE"`, `"BEARHEDGE "`, 1), `consumer_key "BEARHEDGE " contains white space`},
		{"access token with newline", strings.Replace(sampleConfig, `"9f3c1e7a5b2d4f6081ac"`, `"9f3c1e7a5b2d4f6081ac\n"`, 1), "access_token contains white space"},
		{"empty suppressed id", strings.Replace(sampleConfig, "max_quantity = 5", "max_quantity = 5\nsuppress_questions = [\"o163\", \"\"]", 1), `orders.suppress_questions: "" is not a question id`},
		{"suppressed id with space", strings.Replace(sampleConfig, "max_quantity = 5", "max_quantity = 5\nsuppress_questions = [\"o163 \"]", 1), `orders.suppress_questions: "o163 " is not a question id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.text))
			if err == nil {
				t.Fatal("config was accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestLoadMissingFileFromEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moved.toml")
	t.Setenv(EnvPath, path)
	_, err := Load(DefaultPath(""))
	if err == nil || !strings.Contains(err.Error(), "$"+EnvPath) {
		t.Errorf("error = %v, want one naming $%s as the source of the path", err, EnvPath)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "--demo") {
		t.Errorf("error = %v, want one pointing at --demo", err)
	}
	// The caller named this path, so passing --config is no fix.
	if err != nil && strings.Contains(err.Error(), "--config") {
		t.Errorf("error = %v, want no advice to pass --config for a named file", err)
	}
}

func TestLoadMissingDefaultFile(t *testing.T) {
	t.Cleanup(xdg.Reload) // runs after t.Setenv has restored the variables
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(EnvPath, "")
	xdg.Reload()

	_, err := Load(DefaultPath(""))
	if err == nil || !strings.Contains(err.Error(), "pass --config") {
		t.Errorf("error = %v, want one suggesting --config for the default path", err)
	}
}

func TestLoadSuggestsKnownKey(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"typo in table", strings.Replace(sampleConfig, "interval = \"2s\"", "interval = \"2s\"\nconsecutive_scan = 3", 1),
			"unknown key gateway.consecutive_scan (did you mean gateway.consecutive_scans?)"},
		{"typo in array of tables", strings.Replace(sampleConfig, "trading = true", "tradng = true", 1),
			"unknown key consumers.tradng (did you mean consumers.trading?)"},
		{"key in wrong table", "max_quantity = 3\n" + sampleConfig,
			"unknown key max_quantity (did you mean orders.max_quantity, in the [orders] table?)"},
		{"misspelt table", sampleConfig + "\n[gatway]\nports = [4001]\n",
			"unknown key gatway (did you mean gateway?); check its spelling"},
		{"no near key", "zzzz = 1\n" + sampleConfig, "unknown key zzzz; check its spelling"},
		{"two keys", "zzzz = 1\nbase_ulr = \"x\"\n" + sampleConfig,
			"unknown keys zzzz, base_ulr (did you mean base_url?); check their spelling"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tc.text))
			if err == nil {
				t.Fatal("config was accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestKnownKeys(t *testing.T) {
	for _, key := range []string{"base_url", "consumers", "consumers.consumer_key", "gateway", "gateway.cooldown", "gateway.consecutive_scans", "orders.suppress_questions"} {
		if !slices.Contains(knownKeys, key) {
			t.Errorf("knownKeys lacks %s", key)
		}
	}
	for _, key := range knownKeys {
		if strings.Contains(key, "Duration") || strings.Contains(key, "path") {
			t.Errorf("knownKeys has %s, which is no key of the file", key)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv(EnvPath, "/from/env.toml")
	if got := DefaultPath("/from/flag.toml"); got != "/from/flag.toml" {
		t.Errorf("flag ignored: %s", got)
	}
	if got := DefaultPath(""); got != "/from/env.toml" {
		t.Errorf("env ignored: %s", got)
	}
	t.Setenv(EnvPath, "")
	if got := DefaultPath(""); !strings.HasSuffix(got, filepath.Join("ibdash", "config.toml")) {
		t.Errorf("default = %s", got)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	c, err := Load(writeConfig(t, sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.toml")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("written with mode %o, want 600", info.Mode().Perm())
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Consumers[1].ConsumerKey != "TESTCONS" || again.Gateway.Cooldown != c.Gateway.Cooldown {
		t.Error("round trip lost values")
	}
	if err := c.Write(path); err == nil {
		t.Error("Write overwrote an existing file")
	}
}

// TestConsumerLoadWarnings loads the openssl-made vector keys through a
// config entry with a lower-case key and a loose file mode: both come
// back as warnings, and the consumer still loads.
func TestConsumerLoadWarnings(t *testing.T) {
	src := filepath.Join("..", "ibclient", "testdata", "ibkr-oauth")
	dir := t.TempDir()
	for _, name := range []string{"private_signature.pem", "private_encryption.pem", "dhparam.pem"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	loose := filepath.Join(dir, "private_signature.pem")
	if err := os.Chmod(loose, 0o640); err != nil {
		t.Fatal(err)
	}
	secret, err := os.ReadFile(filepath.Join(src, "access_token_secret_encrypted.b64"))
	if err != nil {
		t.Fatal(err)
	}

	entry := Consumer{
		ConsumerKey:       "IbTestKey",
		Realm:             "limited_poa",
		AccessToken:       "9f3c1e7a5b2d4f6081ac",
		AccessTokenSecret: string(secret),
		SignatureKey:      loose,
		EncryptionKey:     filepath.Join(dir, "private_encryption.pem"),
		DHParams:          filepath.Join(dir, "dhparam.pem"),
	}
	loaded, warnings, err := entry.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(loaded.Secret) != 32 {
		t.Errorf("decrypted secret has %d bytes, want 32", len(loaded.Secret))
	}
	if len(warnings) != 2 {
		t.Fatalf("warnings = %q, want one for the key and one for the file mode", warnings)
	}
	if !strings.Contains(warnings[0], `use "IBTESTKEY"`) {
		t.Errorf("key warning %q does not give the upper-case key", warnings[0])
	}
	if !strings.Contains(warnings[1], loose) || !strings.Contains(warnings[1], "0640") || !strings.Contains(warnings[1], "chmod 600") {
		t.Errorf("mode warning %q does not name the file, its mode and the fix", warnings[1])
	}
}

// FuzzLoad checks that no config file makes Load panic, and that a file
// it accepts passes Validate again.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(sampleConfig))
	f.Add([]byte("\ufeffbase_url = \"https://api.ibkr.com/v1/api\"\n"))
	f.Add([]byte("[gateway]\ncooldown = \"-5m\"\nports = [0]\n"))
	f.Add([]byte("[[consumers]]\nconsumer_key = \" A \"\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate rejects: %v", err)
		}
	})
}
