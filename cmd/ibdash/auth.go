package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/tui/common"
)

func init() {
	commands["auth"] = command{
		summary: "run the LST handshake and session start for each consumer, step by step",
		run:     runAuth,
	}
}

// authStepTimeout bounds one step of `ibdash auth`.
const authStepTimeout = 30 * time.Second

func runAuth(ctx context.Context, env *environment, args []string) int {
	fs := env.newFlagSet("auth", "auth [--consumer KEY]")
	only := fs.String("consumer", "", "check only the consumer with this `key`")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}

	cfg, closeDemo, err := env.loadConfig()
	if err != nil {
		env.errorf("auth: %v", err)
		return exitUsage
	}
	defer closeDemo()

	consumers := cfg.Consumers
	if *only != "" {
		cons, ok := cfg.Consumer(*only)
		if !ok {
			env.errorf("auth: no consumer %q in %s; the config has %s", *only, cfg.Path, consumerKeys(cfg))
			return exitUsage
		}
		consumers = []config.Consumer{*cons}
	}
	if len(consumers) == 0 {
		env.errorf("auth: %s lists no [[consumers]]; add one (see README.md)", cfg.Path)
		return exitUsage
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		env.errorf("auth: base_url: %v", err)
		return exitUsage
	}

	failed := 0
	for i := range consumers {
		fmt.Fprintf(env.stdout, "consumer %s (realm %s)\n", consumers[i].ConsumerKey, consumers[i].Realm)
		if !checkConsumer(ctx, env.stdout, cfg, &consumers[i], base) {
			failed++
		}
		fmt.Fprintln(env.stdout)
	}
	switch {
	case len(consumers) == 1 && failed == 1:
		fmt.Fprintf(env.stdout, "Consumer %s failed.\n", consumers[0].ConsumerKey)
	case failed > 0:
		fmt.Fprintf(env.stdout, "%d of %d consumers failed.\n", failed, len(consumers))
	case len(consumers) == 1:
		fmt.Fprintf(env.stdout, "Consumer %s authenticated.\n", consumers[0].ConsumerKey)
	default:
		fmt.Fprintf(env.stdout, "All %d consumers authenticated.\n", len(consumers))
	}
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}

// checkConsumer runs and prints the steps for one consumer and reports
// whether all of them succeeded.
func checkConsumer(ctx context.Context, w io.Writer, cfg *config.Config, cons *config.Consumer, base *url.URL) bool {
	var creds *ibclient.Consumer
	ok := step(ctx, w, "load key files and access token secret", func(context.Context) (string, error) {
		loaded, warnings, err := cons.Load()
		for _, warning := range warnings {
			fmt.Fprintf(w, "    warning: %s\n", warning)
		}
		creds = loaded
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d-byte secret decrypted, %d-bit DH prime", len(creds.Secret), creds.DH.P.BitLen()), nil
	})
	if !ok {
		return false
	}

	httpClient := &http.Client{Transport: &http.Transport{IdleConnTimeout: 30 * time.Second}}
	defer httpClient.CloseIdleConnections()
	auth := &ibclient.Authenticator{Consumer: creds, BaseURL: base, HTTP: httpClient}

	var lst *ibclient.LiveSessionToken
	ok = step(ctx, w, "POST oauth/live_session_token (RSA-SHA256, Diffie-Hellman)", func(ctx context.Context) (string, error) {
		var err error
		lst, err = auth.LiveSessionToken(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("LST valid, expires %s", lst.Expires.Local().Format(time.RFC1123)), nil
	})
	if !ok {
		return false
	}

	client, err := ibclient.NewClient(cfg.BaseURL,
		ibclient.WithHTTPClient(httpClient),
		ibclient.WithTokenSource(ibclient.StaticToken{LST: lst}),
		ibclient.WithSignQuery(cfg.SignQueryParams))
	if err != nil {
		fmt.Fprintf(w, "  client: %v\n", err)
		return false
	}

	ok = step(ctx, w, "POST iserver/auth/ssodh/init", func(ctx context.Context) (string, error) {
		status, err := client.InitBrokerageSession(ctx, cfg.CompeteValue())
		if err != nil {
			return "", err
		}
		return describeStatus(status), nil
	})
	if !ok {
		return false
	}

	// From here on a brokerage session is open, so it is closed whether
	// the remaining steps succeed or not.
	if !checkBrokerageSession(ctx, w, client) {
		step(context.WithoutCancel(ctx), w, "POST logout (after the failure)", func(ctx context.Context) (string, error) {
			return "session closed", client.Logout(ctx)
		})
		return false
	}

	// The check leaves no brokerage session behind to compete with the
	// dashboard or TWS.
	return step(ctx, w, "POST logout", func(ctx context.Context) (string, error) {
		return "session closed", client.Logout(ctx)
	})
}

// checkBrokerageSession runs and prints the steps after ssodh/init and
// reports whether all of them succeeded.
func checkBrokerageSession(ctx context.Context, w io.Writer, client *ibclient.Client) bool {
	ok := step(ctx, w, "GET iserver/accounts (retried while IB answers no bridge)", func(ctx context.Context) (string, error) {
		accounts, attempts, err := accountsAfterBridge(ctx, client)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("accounts %v, selected %s, after %d attempts", accounts.Accounts, accounts.SelectedAccount, attempts), nil
	})
	if !ok {
		return false
	}

	return step(ctx, w, "GET iserver/auth/status", func(ctx context.Context) (string, error) {
		status, err := client.AuthStatus(ctx)
		if err != nil {
			return "", err
		}
		if !status.Authenticated {
			return "", fmt.Errorf("session is not authenticated: %s", describeStatus(status))
		}
		return describeStatus(status), nil
	})
}

// accountsAfterBridge calls iserver/accounts until the bridge is up,
// with a doubling pause, because IB returns "no bridge" for a few seconds
// after ssodh/init.
func accountsAfterBridge(ctx context.Context, client *ibclient.Client) (*ibclient.Accounts, int, error) {
	pause := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		accounts, err := client.Accounts(ctx)
		if err == nil || !ibclient.IsKind(err, ibclient.KindNoBridge) {
			return accounts, attempt, err
		}
		select {
		case <-ctx.Done():
			return nil, attempt, fmt.Errorf("bridge did not come up: %w", err)
		case <-time.After(pause):
		}
		pause = min(2*pause, 4*time.Second)
	}
}

// step runs one timed step and prints its result or its decoded error.
func step(ctx context.Context, w io.Writer, name string, fn func(context.Context) (string, error)) bool {
	fmt.Fprintf(w, "  %s\n", name)
	ctx, cancel := context.WithTimeout(ctx, authStepTimeout)
	defer cancel()

	start := time.Now()
	result, err := fn(ctx)
	elapsed := time.Since(start)
	if elapsed >= time.Millisecond {
		elapsed = elapsed.Round(time.Millisecond)
	} else {
		elapsed = elapsed.Round(time.Microsecond)
	}
	if err != nil {
		fmt.Fprintf(w, "    FAILED after %s\n", elapsed)
		printDecodedError(w, "    ", err)
		return false
	}
	fmt.Fprintf(w, "    ok in %s: %s\n", elapsed, result)
	return true
}

// printDecodedError prints kind, request id, message and next step of an
// IB error, or the error as it is for other failures.
func printDecodedError(w io.Writer, indent string, err error) {
	var apiErr *ibclient.APIError
	var netErr *ibclient.NetworkError
	var credErr *ibclient.CredentialError
	switch {
	case errors.As(err, &credErr):
		// Checked first: a key with lower-case letters gets IB's invalid
		// consumer as a CredentialError, and its fix is the config, not
		// the wait for activation.
		fmt.Fprintf(w, "%skind:       misconfigured\n", indent)
		fmt.Fprintf(w, "%serror:      %s: %v\n", indent, credErr.Item, credErr.Err)
		if credErr.Fix != "" {
			fmt.Fprintf(w, "%snext step:  %s\n", indent, credErr.Fix)
		}
	case errors.As(err, &apiErr):
		fmt.Fprintf(w, "%skind:       %s\n", indent, apiErr.Kind)
		if apiErr.RequestID != "" {
			fmt.Fprintf(w, "%srequest id: %s (IB's trace id for this one request; it is not an error code)\n", indent, apiErr.RequestID)
		}
		fmt.Fprintf(w, "%sHTTP:       %d\n", indent, apiErr.StatusCode)
		fmt.Fprintf(w, "%smessage:    %s\n", indent, apiErr.Message)
		fmt.Fprintf(w, "%snext step:  %s\n", indent, apiErr.Explanation())
		if apiErr.Kind == ibclient.KindInvalidConsumer {
			now := time.Now()
			end := ibclient.NextWeekendMaintenance(now).End
			fmt.Fprintf(w, "%sactivation: expected after %s (in %s), at the end of IB's weekend maintenance\n",
				indent, end.In(ibclient.NewYork()).Format("Mon 2006-01-02 15:04 MST"), common.Countdown(now, end))
		}
	case errors.As(err, &netErr):
		fmt.Fprintf(w, "%skind:       unreachable\n", indent)
		fmt.Fprintf(w, "%serror:      %v\n", indent, err)
		fmt.Fprintf(w, "%snext step:  check the network and base_url; IB was not reached\n", indent)
	default:
		fmt.Fprintf(w, "%serror: %v\n", indent, err)
	}
}

func describeStatus(s *ibclient.AuthStatus) string {
	text := fmt.Sprintf("authenticated=%t connected=%t competing=%t", s.Authenticated, s.Connected, s.Competing)
	if s.Message != "" {
		text += " message=" + s.Message
	}
	if s.Fail != "" {
		text += " fail=" + s.Fail
	}
	return text
}

func consumerKeys(cfg *config.Config) string {
	if len(cfg.Consumers) == 0 {
		return "none"
	}
	keys := ""
	for i, c := range cfg.Consumers {
		if i > 0 {
			keys += ", "
		}
		keys += c.ConsumerKey
	}
	return keys
}
