package ibsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/adrg/xdg"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
)

// The demo consumers: one active key that trades, one key still waiting
// for IB's weekend activation, and IB's test consumer.
const (
	DemoTradingKey = "DEMOTRADE"
	DemoPendingKey = "DEMOWAITS"
	DemoTestKey    = testConsumerKey
)

// demoKeys lists the demo consumers in config order.
var demoKeys = []string{DemoTradingKey, DemoPendingKey, DemoTestKey}

// Key file names inside a demo consumer's folder, as the portal and
// openssl name them.
const (
	fileSignatureKey    = "private_signature.pem"
	fileSignaturePublic = "public_signature.pem"
	fileEncryptionKey   = "private_encryption.pem"
	fileEncryptionPub   = "public_encryption.pem"
	fileDHParams        = "dhparam.pem"
	fileAccessToken     = "access_token"
	fileAccessSecret    = "access_token_secret"
)

// DefaultDemoDir returns the folder where the demo keeps its key files
// between runs: $XDG_CACHE_HOME/ibdash/demo-keys.
func DefaultDemoDir() string {
	return filepath.Join(xdg.CacheHome, "ibdash", "demo-keys")
}

// WriteDemoKeys makes sure dir holds the key material of the three demo
// consumers, one folder per consumer key, and returns a config that
// reaches baseURL with them. Files that exist and fit together are
// reused, so only the first run spends time generating RSA keys. Key
// paths in the config are absolute.
func WriteDemoKeys(dir, baseURL string) (*config.Config, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ibsim: demo key folder: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("ibsim: demo key folder: %w", err)
	}

	consumers := make([]config.Consumer, len(demoKeys))
	errs := make([]error, len(demoKeys))
	var wg sync.WaitGroup
	for i, key := range demoKeys {
		wg.Go(func() {
			consumers[i], errs[i] = writeDemoConsumer(filepath.Join(abs, key), key)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	consumers[0].Trading = true
	return &config.Config{BaseURL: baseURL, AccountID: DefaultAccountID, Consumers: consumers}, nil
}

// writeDemoConsumer creates or reuses one consumer's files in dir.
func writeDemoConsumer(dir, key string) (config.Consumer, error) {
	fail := func(err error) (config.Consumer, error) {
		return config.Consumer{}, fmt.Errorf("ibsim: demo consumer %s in %s: %w", key, dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}

	var encKey *rsa.PrivateKey
	var keyErrs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { _, keyErrs[0] = loadOrCreateKeyPair(dir, fileSignatureKey, fileSignaturePublic) })
	wg.Go(func() { encKey, keyErrs[1] = loadOrCreateKeyPair(dir, fileEncryptionKey, fileEncryptionPub) })
	wg.Wait()
	if err := errors.Join(keyErrs[:]...); err != nil {
		return fail(err)
	}

	dhPath := filepath.Join(dir, fileDHParams)
	if _, err := ibclient.LoadDHParams(dhPath); err != nil {
		data, err := ibclient.EncodeDHParamsPEM(ibclient.FFDHE2048())
		if err != nil {
			return fail(err)
		}
		if err := os.WriteFile(dhPath, data, 0o644); err != nil {
			return fail(err)
		}
	}

	token, err := loadOrCreateToken(filepath.Join(dir, fileAccessToken))
	if err != nil {
		return fail(err)
	}
	secret, err := loadOrCreateSecret(filepath.Join(dir, fileAccessSecret), encKey)
	if err != nil {
		return fail(err)
	}

	realm := ibclient.RealmLimitedPOA
	if key == testConsumerKey {
		realm = ibclient.RealmTest
	}
	return config.Consumer{
		ConsumerKey:       key,
		Realm:             realm,
		AccessToken:       token,
		AccessTokenSecret: secret,
		SignatureKey:      filepath.Join(dir, fileSignatureKey),
		EncryptionKey:     filepath.Join(dir, fileEncryptionKey),
		DHParams:          dhPath,
	}, nil
}

// loadOrCreateKeyPair reads the private key, or generates and writes a new
// one, and rewrites the public half when it is missing.
func loadOrCreateKeyPair(dir, privateName, publicName string) (*rsa.PrivateKey, error) {
	privatePath := filepath.Join(dir, privateName)
	key, err := ibclient.LoadRSAPrivateKey(privatePath)
	if err != nil {
		key, err = ibclient.GenerateRSAKey(ibclient.MinKeyBits)
		if err != nil {
			return nil, err
		}
		data, err := ibclient.EncodePrivateKeyPEM(key)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(privatePath, data, 0o600); err != nil {
			return nil, err
		}
		_ = os.Remove(filepath.Join(dir, publicName)) // it belonged to the old key
	}

	publicPath := filepath.Join(dir, publicName)
	if data, err := os.ReadFile(publicPath); err == nil {
		if pub, err := ibclient.ParseRSAPublicKey(data); err == nil && pub.Equal(&key.PublicKey) {
			return key, nil
		}
	}
	data, err := ibclient.EncodePublicKeyPEM(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return key, os.WriteFile(publicPath, data, 0o644)
}

func loadOrCreateToken(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		token := strings.TrimSpace(string(data))
		if _, err := hex.DecodeString(token); err == nil && len(token) == 20 {
			return token, nil
		}
	}
	raw := make([]byte, 10)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	return token, os.WriteFile(path, []byte(token+"\n"), 0o600)
}

// loadOrCreateSecret returns the encrypted access token secret in base64,
// reusing the file when it still decrypts with encKey.
func loadOrCreateSecret(path string, encKey *rsa.PrivateKey) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		secret := strings.TrimSpace(string(data))
		if _, err := ibclient.DecryptAccessTokenSecret(secret, encKey, path); err == nil {
			return secret, nil
		}
	}
	plain := make([]byte, 32)
	if _, err := rand.Read(plain); err != nil {
		return "", err
	}
	secret, err := ibclient.EncryptAccessTokenSecret(plain, &encKey.PublicKey)
	if err != nil {
		return "", err
	}
	return secret, os.WriteFile(path, []byte(secret+"\n"), 0o600)
}

// AddConfigConsumer registers a consumer of a client config with the
// server, as IB would hold it: the public halves of its keys, its DH
// parameters and its access token with the decrypted secret.
func (s *Server) AddConfigConsumer(c config.Consumer, activation Activation, activeFrom time.Time) error {
	loaded, _, err := c.Load()
	if err != nil {
		return fmt.Errorf("ibsim: %w", err)
	}
	encKey, err := ibclient.LoadRSAPrivateKey(c.EncryptionKey)
	if err != nil {
		return fmt.Errorf("ibsim: consumer %s: %w", c.ConsumerKey, err)
	}
	err = s.AddConsumer(Consumer{
		Key:           c.ConsumerKey,
		SignatureKey:  &loaded.SignatureKey.PublicKey,
		EncryptionKey: &encKey.PublicKey,
		DH:            loaded.DH,
		Realm:         c.Realm,
		Activation:    activation,
		ActiveFrom:    activeFrom,
	})
	if err != nil {
		return err
	}
	return s.AddAccessToken(AccessToken{
		Token:           c.AccessToken,
		ConsumerKey:     c.ConsumerKey,
		Secret:          loaded.Secret,
		EncryptedSecret: c.AccessTokenSecret,
	})
}

// AddDemoConsumers registers the consumers of a config from
// WriteDemoKeys: DemoPendingKey pending until the next weekend
// maintenance ends, the others active.
func (s *Server) AddDemoConsumers(cfg *config.Config) error {
	for _, c := range cfg.Consumers {
		activation := ActivationActive
		if c.ConsumerKey == DemoPendingKey {
			activation = ActivationPending
		}
		if err := s.AddConfigConsumer(c, activation, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// Instance is a simulator serving on a listener.
type Instance struct {
	// URL is the API base, such as http://127.0.0.1:41234/v1/api, the
	// value for a config's base_url.
	URL  string
	Addr net.Addr

	srv  *http.Server
	done chan error
}

// Start serves the simulator on 127.0.0.1 at a free port.
func (s *Server) Start() (*Instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ibsim: listening on 127.0.0.1: %w", err)
	}
	return s.Serve(ln), nil
}

// Serve serves the simulator on ln until the instance is closed.
func (s *Server) Serve(ln net.Listener) *Instance {
	inst := &Instance{
		URL:  "http://" + ln.Addr().String() + s.opts.PathPrefix,
		Addr: ln.Addr(),
		srv:  &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() {
		err := inst.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		inst.done <- err
	}()
	s.log.Info("simulator listening", "url", inst.URL)
	return inst
}

// Close stops serving, waiting up to five seconds for requests in flight.
func (i *Instance) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := i.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, i.srv.Close())
	}
	return errors.Join(err, <-i.done)
}

// Demo is a running simulator with the demo consumers registered.
type Demo struct {
	*Instance
	Server *Server
	// Config reaches the simulator with the demo consumers; its key paths
	// are absolute.
	Config *config.Config
}

// StartDemo starts a simulator on 127.0.0.1 with the demo consumers,
// keeping their key files in dir (DefaultDemoDir when empty).
func StartDemo(dir string, opts Options) (*Demo, error) {
	if dir == "" {
		dir = DefaultDemoDir()
	}
	s := New(opts)
	inst, err := s.Start()
	if err != nil {
		return nil, err
	}
	cfg, err := WriteDemoKeys(dir, inst.URL)
	if err == nil {
		err = s.AddDemoConsumers(cfg)
	}
	if err != nil {
		return nil, errors.Join(err, inst.Close())
	}
	return &Demo{Instance: inst, Server: s, Config: cfg}, nil
}
