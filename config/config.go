// Package config reads and writes ibdash's TOML config file: the consumers
// with their key files, the IB Gateway watchdog and the order limits.
// Relative key paths are resolved against the config file's folder.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
	"github.com/adrg/xdg"

	"github.com/ibdash/ibdash/ibclient"
)

// EnvPath is the environment variable that names the config file.
const EnvPath = "IBDASH_CONFIG"

// DefaultBaseURL is IB's Web API base for OAuth clients.
const DefaultBaseURL = "https://api.ibkr.com/v1/api"

// Config is the whole config file.
type Config struct {
	BaseURL   string `toml:"base_url"`
	AccountID string `toml:"account_id"`

	// SignQueryParams also signs query parameters, the other form IB has
	// accepted; by default only the OAuth parameters are signed.
	SignQueryParams bool `toml:"sign_query_params"`
	// Compete makes ssodh/init take over a brokerage session that is open
	// elsewhere (TWS, the mobile app); false leaves the other one alone.
	Compete *bool `toml:"compete"`

	Consumers []Consumer `toml:"consumers"`
	Gateway   Gateway    `toml:"gateway"`
	Orders    Orders     `toml:"orders"`

	// Path is the file this config was read from ("" when built in code).
	Path string `toml:"-"`
}

// Consumer is one [[consumers]] entry.
type Consumer struct {
	ConsumerKey       string `toml:"consumer_key"`
	Realm             string `toml:"realm"`
	AccessToken       string `toml:"access_token"`
	AccessTokenSecret string `toml:"access_token_secret"`
	SignatureKey      string `toml:"signature_key"`
	EncryptionKey     string `toml:"encryption_key"`
	DHParams          string `toml:"dh_params"`
	Trading           bool   `toml:"trading"`
}

// Gateway is the [gateway] table of the socket watchdog.
type Gateway struct {
	Ports              []int    `toml:"ports"`
	CloseWaitThreshold int      `toml:"close_wait_threshold"`
	RestartCommand     []string `toml:"restart_command"`
	Cooldown           Duration `toml:"cooldown"`
	Interval           Duration `toml:"interval"`
	// ConsecutiveScans is how many scans in a row must be over the
	// threshold (or fail the probe) before a restart.
	ConsecutiveScans   int      `toml:"consecutive_scans"`
	MaxRestartsPerHour int      `toml:"max_restarts_per_hour"`
	RestartTimeout     Duration `toml:"restart_timeout"`
	Process            string   `toml:"process"`
	PID                int      `toml:"pid"`
	// ProcessRefresh is how often the socket-to-process map is rebuilt;
	// it reads every /proc/PID/fd, so it is kept rare.
	ProcessRefresh Duration `toml:"process_refresh"`
	Probe          bool     `toml:"probe"`
	// ProbeHost is the address the TWS API probe connects to.
	ProbeHost    string   `toml:"probe_host"`
	ProbeTimeout Duration `toml:"probe_timeout"`
	DryRun       bool     `toml:"dry_run"`
	StateFile    string   `toml:"state_file"`
}

// Orders is the [orders] table.
type Orders struct {
	MaxQuantity int    `toml:"max_quantity"`
	AuditLog    string `toml:"audit_log"`
	// SuppressQuestions lists IB question ids (such as o163) that ibdash
	// confirms without asking. Empty: every question is put to the user.
	SuppressQuestions []string `toml:"suppress_questions"`
}

// Duration is a time.Duration written as "5m" or "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as 30s or 5m", text)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go's form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// DefaultPath returns the config path from the flag value, then
// $IBDASH_CONFIG, then $XDG_CONFIG_HOME/ibdash/config.toml.
func DefaultPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv(EnvPath); env != "" {
		return env
	}
	return filepath.Join(xdg.ConfigHome, "ibdash", "config.toml")
}

// DefaultStatePath returns a file in $XDG_STATE_HOME/ibdash.
func DefaultStatePath(name string) string {
	return filepath.Join(xdg.StateHome, "ibdash", name)
}

// Defaults returns a config with every default set and no consumers.
func Defaults() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Compete == nil {
		compete := true
		c.Compete = &compete
	}
	for i := range c.Consumers {
		if c.Consumers[i].Realm == "" {
			c.Consumers[i].Realm = ibclient.RealmLimitedPOA
		}
	}
	g := &c.Gateway
	if g.CloseWaitThreshold == 0 {
		g.CloseWaitThreshold = 20
	}
	if g.Cooldown.Duration == 0 {
		g.Cooldown.Duration = 5 * time.Minute
	}
	if g.Interval.Duration == 0 {
		g.Interval.Duration = 5 * time.Second
	}
	if g.ConsecutiveScans == 0 {
		g.ConsecutiveScans = 3
	}
	if g.MaxRestartsPerHour == 0 {
		g.MaxRestartsPerHour = 3
	}
	if g.RestartTimeout.Duration == 0 {
		g.RestartTimeout.Duration = 2 * time.Minute
	}
	if g.ProcessRefresh.Duration == 0 {
		g.ProcessRefresh.Duration = time.Minute
	}
	if g.ProbeHost == "" {
		g.ProbeHost = "127.0.0.1"
	}
	if g.ProbeTimeout.Duration == 0 {
		g.ProbeTimeout.Duration = 5 * time.Second
	}
	if g.StateFile == "" {
		g.StateFile = DefaultStatePath("gateway-restarts.json")
	}
	if c.Orders.MaxQuantity == 0 {
		c.Orders.MaxQuantity = 10
	}
	if c.Orders.AuditLog == "" {
		c.Orders.AuditLog = DefaultStatePath("orders.jsonl")
	}
}

// Load reads, completes and checks the config file at path. Unknown keys
// are an error, since a misspelt key would otherwise be ignored.
func Load(path string) (*Config, error) {
	var c Config
	meta, err := toml.DecodeFile(path, &c)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if os.Getenv(EnvPath) == path {
				return nil, fmt.Errorf("config: %s (from $%s) does not exist; correct or unset %s, create the file (see README.md), or run `ibdash --demo`", path, EnvPath, EnvPath)
			}
			if path != DefaultPath("") {
				// The caller named this file, with --config or otherwise.
				return nil, fmt.Errorf("config: %s does not exist; check the path, create the file (see README.md), or run `ibdash --demo`", path)
			}
			return nil, fmt.Errorf("config: %s does not exist; create it (see README.md), pass --config, or run `ibdash --demo`", path)
		}
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if undecoded := meta.Undecoded(); len(undecoded) > 0 {
		return nil, fmt.Errorf("config: %s: %w", path, unknownKeysError(undecoded))
	}

	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	c.Path = abs
	c.applyDefaults()
	c.resolvePaths(filepath.Dir(abs))
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) resolvePaths(dir string) {
	resolve := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range c.Consumers {
		resolve(&c.Consumers[i].SignatureKey)
		resolve(&c.Consumers[i].EncryptionKey)
		resolve(&c.Consumers[i].DHParams)
	}
	resolve(&c.Gateway.StateFile)
	resolve(&c.Orders.AuditLog)
}

// Validate checks the fields that do not need the key files.
func (c *Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("base_url %q is not an http(s) URL such as %s", c.BaseURL, DefaultBaseURL)
	}

	trading := 0
	seen := map[string]bool{}
	for i, cons := range c.Consumers {
		where := fmt.Sprintf("consumers[%d]", i)
		if cons.ConsumerKey == "" {
			return fmt.Errorf("%s: consumer_key is missing", where)
		}
		// IB returns "invalid consumer" for a key with a pasted space, which
		// looks like a key still waiting for activation.
		if strings.ContainsFunc(cons.ConsumerKey, unicode.IsSpace) {
			return fmt.Errorf("%s: consumer_key %q contains white space; remove it", where, cons.ConsumerKey)
		}
		where = fmt.Sprintf("consumer %s", cons.ConsumerKey)
		// The portal upper-cases keys, so two keys that differ only in case
		// are one portal key, once mistyped.
		if seen[strings.ToUpper(cons.ConsumerKey)] {
			return fmt.Errorf("%s appears twice", where)
		}
		seen[strings.ToUpper(cons.ConsumerKey)] = true
		if strings.ContainsFunc(cons.AccessToken, unicode.IsSpace) {
			return fmt.Errorf("%s: access_token contains white space; paste it again from the Self-Service Portal", where)
		}
		for field, value := range map[string]string{
			"access_token": cons.AccessToken, "access_token_secret": cons.AccessTokenSecret,
			"signature_key": cons.SignatureKey, "encryption_key": cons.EncryptionKey, "dh_params": cons.DHParams,
		} {
			if value == "" {
				return fmt.Errorf("%s: %s is missing", where, field)
			}
		}
		switch cons.Realm {
		case ibclient.RealmLimitedPOA:
		case ibclient.RealmTest:
			if cons.ConsumerKey != "TESTCONS" {
				return fmt.Errorf("%s: realm test_realm is only for TESTCONS; use limited_poa", where)
			}
		default:
			return fmt.Errorf("%s: realm %q is not limited_poa or test_realm", where, cons.Realm)
		}
		if cons.Trading {
			trading++
		}
	}
	if trading > 1 {
		return errors.New("more than one consumer has trading = true; mark only the one whose session places orders")
	}

	g := c.Gateway
	for _, p := range g.Ports {
		if p <= 0 || p > 65535 {
			return fmt.Errorf("gateway.ports: %d is not a TCP port", p)
		}
	}
	if g.CloseWaitThreshold < 1 {
		return fmt.Errorf("gateway.close_wait_threshold %d must be at least 1", g.CloseWaitThreshold)
	}
	if g.Interval.Duration < 100*time.Millisecond {
		return fmt.Errorf("gateway.interval %s is too short; use 100ms or more (5s is the default)", g.Interval.Duration)
	}
	if g.Cooldown.Duration < 0 {
		return fmt.Errorf("gateway.cooldown %s is negative", g.Cooldown.Duration)
	}
	if g.ConsecutiveScans < 1 || g.MaxRestartsPerHour < 1 {
		return errors.New("gateway: consecutive_scans and max_restarts_per_hour must be at least 1")
	}
	if g.RestartTimeout.Duration <= 0 || g.ProbeTimeout.Duration <= 0 || g.ProcessRefresh.Duration <= 0 {
		return errors.New("gateway: restart_timeout, probe_timeout and process_refresh must be positive durations")
	}
	if g.PID < 0 {
		return fmt.Errorf("gateway.pid %d is not a process id", g.PID)
	}
	if c.Orders.MaxQuantity < 1 {
		return fmt.Errorf("orders.max_quantity %d must be at least 1", c.Orders.MaxQuantity)
	}
	// An id that never matches IB's would silently leave the question
	// asked.
	for _, id := range c.Orders.SuppressQuestions {
		if id == "" || strings.ContainsFunc(id, unicode.IsSpace) {
			return fmt.Errorf("orders.suppress_questions: %q is not a question id such as o163", id)
		}
	}
	return nil
}

// CompeteValue returns the compete setting, true unless set to false.
func (c *Config) CompeteValue() bool { return c.Compete == nil || *c.Compete }

// TradingConsumer returns the consumer marked trading, or the only one.
func (c *Config) TradingConsumer() (*Consumer, bool) {
	for i := range c.Consumers {
		if c.Consumers[i].Trading {
			return &c.Consumers[i], true
		}
	}
	if len(c.Consumers) == 1 {
		return &c.Consumers[0], true
	}
	return nil, false
}

// Consumer returns the entry with the given key.
func (c *Config) Consumer(key string) (*Consumer, bool) {
	i := slices.IndexFunc(c.Consumers, func(cons Consumer) bool { return cons.ConsumerKey == key })
	if i < 0 {
		return nil, false
	}
	return &c.Consumers[i], true
}

// Load reads the consumer's key files and decrypts its access token
// secret. Warnings (lower-case key, loose file modes) are returned apart
// from the error, for the caller to show.
func (cons *Consumer) Load() (*ibclient.Consumer, []string, error) {
	var warnings []string
	if w := ibclient.ConsumerKeyWarning(cons.ConsumerKey); w != "" {
		warnings = append(warnings, w)
	}
	for _, p := range []string{cons.SignatureKey, cons.EncryptionKey} {
		if w := ibclient.PermissionWarning(p); w != "" {
			warnings = append(warnings, w)
		}
	}

	sigKey, err := ibclient.LoadRSAPrivateKey(cons.SignatureKey)
	if err != nil {
		return nil, warnings, fmt.Errorf("consumer %s: signature_key: %w", cons.ConsumerKey, err)
	}
	encKey, err := ibclient.LoadRSAPrivateKey(cons.EncryptionKey)
	if err != nil {
		return nil, warnings, fmt.Errorf("consumer %s: encryption_key: %w", cons.ConsumerKey, err)
	}
	dh, err := ibclient.LoadDHParams(cons.DHParams)
	if err != nil {
		return nil, warnings, fmt.Errorf("consumer %s: dh_params: %w", cons.ConsumerKey, err)
	}
	secret, err := ibclient.DecryptAccessTokenSecret(cons.AccessTokenSecret, encKey, cons.EncryptionKey)
	if err != nil {
		return nil, warnings, fmt.Errorf("consumer %s: %w", cons.ConsumerKey, err)
	}
	return &ibclient.Consumer{
		ConsumerKey:  cons.ConsumerKey,
		AccessToken:  cons.AccessToken,
		Realm:        cons.Realm,
		Secret:       secret,
		SignatureKey: sigKey,
		DH:           dh,
	}, warnings, nil
}

// Write saves c as TOML at path with mode 0600, since it holds access
// token secrets. An existing file is not overwritten.
func (c *Config) Write(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := toml.NewEncoder(f).Encode(c); err != nil {
		f.Close()
		return fmt.Errorf("config: writing %s: %w", path, err)
	}
	return f.Close()
}
