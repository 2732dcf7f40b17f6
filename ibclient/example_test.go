package ibclient_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// exampleConsumer is the config entry of the known-answer vectors' key
// files, which the simulator below accepts.
func exampleConsumer() config.Consumer {
	dir := filepath.Join("testdata", "ibkr-oauth")
	return config.Consumer{
		ConsumerKey:       "IBTESTKEY",
		Realm:             ibclient.RealmLimitedPOA,
		AccessToken:       "9f3c1e7a5b2d4f6081ac",
		AccessTokenSecret: mustRead(filepath.Join(dir, "access_token_secret_encrypted.b64")),
		SignatureKey:      filepath.Join(dir, "private_signature.pem"),
		EncryptionKey:     filepath.Join(dir, "private_encryption.pem"),
		DHParams:          filepath.Join(dir, "dhparam.pem"),
	}
}

// Example runs the LST handshake against the simulator on 127.0.0.1, then
// makes signed calls with the token.
func Example() {
	ctx := context.Background()
	entry := exampleConsumer()
	sim := ibsim.New(ibsim.Options{BridgeDelay: -1})
	if err := sim.AddConfigConsumer(entry, ibsim.ActivationActive, time.Time{}); err != nil {
		fmt.Println(err)
		return
	}
	inst, err := sim.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inst.Close()

	// The handshake: key files in, live session token out.
	consumer, _, err := entry.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	base, _ := url.Parse(inst.URL) // such as https://api.ibkr.com/v1/api
	auth := &ibclient.Authenticator{Consumer: consumer, BaseURL: base}
	lst, err := auth.LiveSessionToken(ctx)
	if err != nil {
		fmt.Println(err) // an *APIError gives IB's reason and the next step
		return
	}
	fmt.Println("LST lifetime:", time.Until(lst.Expires).Round(time.Hour))

	// Every call through this client is signed with HMAC-SHA256 and the LST.
	client, err := ibclient.NewClient(inst.URL, ibclient.WithTokenSource(ibclient.StaticToken{LST: lst}))
	if err != nil {
		fmt.Println(err)
		return
	}
	status, err := client.InitBrokerageSession(ctx, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("authenticated:", status.Authenticated)
	accounts, err := client.Accounts(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("account:", accounts.SelectedAccount)

	// Output:
	// LST lifetime: 24h0m0s
	// authenticated: true
	// account: DU1234567
}

// ExampleSession lets a Session do the handshake, the brokerage session
// start and the accounts priming, and log out at the end.
func ExampleSession() {
	ctx := context.Background()
	entry := exampleConsumer()
	sim := ibsim.New(ibsim.Options{BridgeDelay: -1})
	if err := sim.AddConfigConsumer(entry, ibsim.ActivationActive, time.Time{}); err != nil {
		fmt.Println(err)
		return
	}
	inst, err := sim.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inst.Close()

	consumer, _, err := entry.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	base, _ := url.Parse(inst.URL)
	session, err := ibclient.NewSession(&ibclient.Authenticator{Consumer: consumer, BaseURL: base},
		ibclient.SessionConfig{Compete: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A long-running program calls session.Run(ctx) instead, which also
	// tickles, renews and rebuilds until ctx ends.
	if err := session.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("state:", session.State().State, "account:", session.Account())

	quotes, err := session.Client().Snapshot(ctx, ibsim.SPYConid)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("SPY quote has a bid:", quotes[0].Bid.Valid)

	if err := session.Close(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("state:", session.State().State)

	// Output:
	// state: ready account: DU1234567
	// SPY quote has a bid: true
	// state: stopped
}

func mustRead(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(data))
}
