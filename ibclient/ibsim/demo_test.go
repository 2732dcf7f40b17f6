package ibsim_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

func readDemoFile(t *testing.T, dir, key, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, key, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestWriteDemoKeysReusesFiles(t *testing.T) {
	dir := t.TempDir()
	first, err := ibsim.WriteDemoKeys(dir, "http://127.0.0.1:1/v1/api")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Consumers) != 3 {
		t.Fatalf("%d consumers, want 3", len(first.Consumers))
	}
	keys := []string{first.Consumers[0].ConsumerKey, first.Consumers[1].ConsumerKey, first.Consumers[2].ConsumerKey}
	if strings.Join(keys, ",") != "DEMOTRADE,DEMOWAITS,TESTCONS" {
		t.Errorf("consumers = %v", keys)
	}
	if !first.Consumers[0].Trading || first.Consumers[1].Trading || first.Consumers[2].Trading {
		t.Error("only DEMOTRADE should trade")
	}
	if first.Consumers[2].Realm != ibclient.RealmTest || first.Consumers[0].Realm != ibclient.RealmLimitedPOA {
		t.Errorf("realms = %s, %s", first.Consumers[0].Realm, first.Consumers[2].Realm)
	}
	info, err := os.Stat(filepath.Join(dir, "DEMOTRADE", "private_signature.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %04o, want 0600", info.Mode().Perm())
	}
	privateBefore := readDemoFile(t, dir, "DEMOTRADE", "private_signature.pem")

	second, err := ibsim.WriteDemoKeys(dir, "http://127.0.0.1:2/v1/api")
	if err != nil {
		t.Fatal(err)
	}
	if second.BaseURL != "http://127.0.0.1:2/v1/api" {
		t.Errorf("base URL = %s", second.BaseURL)
	}
	for i := range first.Consumers {
		if first.Consumers[i].AccessToken != second.Consumers[i].AccessToken || first.Consumers[i].AccessTokenSecret != second.Consumers[i].AccessTokenSecret {
			t.Errorf("%s: token or secret regenerated on the second run", keys[i])
		}
	}
	if !bytes.Equal(privateBefore, readDemoFile(t, dir, "DEMOTRADE", "private_signature.pem")) {
		t.Error("the private signature key was regenerated on the second run")
	}

	// A missing public key is rewritten from its private key, and a
	// secret that no longer decrypts is replaced.
	if err := os.Remove(filepath.Join(dir, "DEMOTRADE", "public_signature.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "DEMOWAITS", "access_token_secret"), []byte("bm90IGEgc2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	third, err := ibsim.WriteDemoKeys(dir, "http://127.0.0.1:3/v1/api")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ibclient.ParseRSAPublicKey(readDemoFile(t, dir, "DEMOTRADE", "public_signature.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ibclient.ParseRSAPrivateKey(privateBefore)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&priv.PublicKey) {
		t.Error("the rewritten public key does not match the private key")
	}
	if third.Consumers[1].AccessTokenSecret == second.Consumers[1].AccessTokenSecret {
		t.Error("the broken secret was kept")
	}
	for _, c := range third.Consumers {
		if _, _, err := c.Load(); err != nil {
			t.Errorf("%s does not load: %v", c.ConsumerKey, err)
		}
	}
}

func TestStartDemo(t *testing.T) {
	logs := &logBuffer{}
	demo, err := ibsim.StartDemo(t.TempDir(), ibsim.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := demo.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if !strings.HasPrefix(demo.URL, "http://127.0.0.1:") || !strings.HasSuffix(demo.URL, "/v1/api") {
		t.Errorf("URL = %s, want http://127.0.0.1:PORT/v1/api", demo.URL)
	}
	if demo.Config.BaseURL != demo.URL {
		t.Errorf("config base_url %s differs from the URL %s", demo.Config.BaseURL, demo.URL)
	}

	base, _ := url.Parse(demo.URL)
	var secrets []string
	for _, entry := range demo.Config.Consumers {
		cons, _, err := entry.Load()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, entry.AccessTokenSecret, hex.EncodeToString(cons.Secret))
		auth := &ibclient.Authenticator{Consumer: cons, BaseURL: base}
		lst, err := auth.LiveSessionToken(context.Background())

		switch entry.ConsumerKey {
		case ibsim.DemoPendingKey:
			if !ibclient.IsKind(err, ibclient.KindInvalidConsumer) {
				t.Errorf("%s: error %v, want invalid consumer until the weekend", entry.ConsumerKey, err)
			}
			continue
		default:
			if err != nil {
				t.Fatalf("%s: %v", entry.ConsumerKey, err)
			}
		}
		secrets = append(secrets, lst.Base64())

		hc := &http.Client{Transport: &ibclient.Transport{Source: ibclient.StaticToken{LST: lst}}, Timeout: 10 * time.Second}
		resp, err := hc.Post(demo.URL+"/iserver/auth/ssodh/init", "application/json", strings.NewReader(`{"publish":true,"compete":true}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: ssodh/init status %d", entry.ConsumerKey, resp.StatusCode)
		}
	}

	if demo.Server.Session(ibsim.DemoTradingKey).Initialized != true {
		t.Error("the trading consumer's session did not start")
	}
	logged := logs.String()
	if !strings.Contains(logged, `"consumer":"DEMOTRADE"`) || !strings.Contains(logged, `"signing":"HMAC-SHA256 V1"`) {
		t.Errorf("request log lacks consumer or signing form: %s", logged)
	}
	for _, secret := range secrets {
		if strings.Contains(logged, secret) {
			t.Errorf("the log contains a secret (%d characters)", len(secret))
		}
	}
}

func TestAddConfigConsumerRejectsBrokenConfig(t *testing.T) {
	sim := ibsim.New(ibsim.Options{})
	err := sim.AddConfigConsumer(config.Consumer{ConsumerKey: "BROKEN123", SignatureKey: "/nonexistent/key.pem"}, ibsim.ActivationActive, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "BROKEN123") {
		t.Errorf("error %v, want one naming the consumer", err)
	}
}
