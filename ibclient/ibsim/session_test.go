package ibsim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

// wantError checks a {"error":TEXT} response.
func wantError(t *testing.T, c *client, method, path string, body any, wantStatus int, wantText string) {
	t.Helper()
	status, data := c.do(method, path, body)
	if status != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, wantStatus, data)
	}
	if got := errorText(t, data); got != wantText {
		t.Errorf("%s %s: error %q, want %q", method, path, got, wantText)
	}
}

func authStatus(t *testing.T, c *client) map[string]any {
	t.Helper()
	var status map[string]any
	c.decode("POST", "/iserver/auth/status", nil, 200, &status)
	return status
}

func TestNoBridgeUntilDelayPasses(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()

	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")

	var init map[string]any
	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"publish": true, "compete": true}, 200, &init)
	if init["authenticated"] != true || init["connected"] != true {
		t.Errorf("init response = %v, want authenticated and connected", init)
	}
	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")
	if got := authStatus(t, c)["authenticated"]; got != false {
		t.Errorf("auth status before the bridge is up: authenticated = %v", got)
	}

	e.clock.Advance(ibsim.DefaultBridgeDelay)
	c.decode("GET", "/iserver/accounts", nil, 200, nil)
	status := authStatus(t, c)
	if status["authenticated"] != true || status["competing"] != false {
		t.Errorf("auth status after the delay = %v", status)
	}
}

func TestInitWithQueryParameters(t *testing.T) {
	e := newEnv(t, ibsim.Options{BridgeDelay: -1})
	c := e.client(e.vector)
	c.login()
	c.decode("POST", "/iserver/auth/ssodh/init?publish=true&compete=true", nil, 200, nil)
	c.decode("GET", "/iserver/accounts", nil, 200, nil)

	if status, _ := c.do("POST", "/iserver/auth/ssodh/init", "not an object"); status != http.StatusBadRequest {
		t.Errorf("init with a JSON string body: status %d, want 400", status)
	}
}

func TestAccountsPrimingRequired(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"publish": true, "compete": true}, 200, nil)
	e.clock.Advance(ibsim.DefaultBridgeDelay)

	const text = "Please query /accounts first"
	wantError(t, c, "GET", "/iserver/marketdata/snapshot?conids=756733&fields=31", nil, 500, text)
	wantError(t, c, "POST", "/iserver/account/DU1234567/orders", map[string]any{"orders": []any{}}, 500, text)
	wantError(t, c, "GET", "/iserver/account/orders", nil, 500, text)
	wantError(t, c, "POST", "/iserver/reply/abc", map[string]bool{"confirmed": true}, 500, text)

	c.decode("GET", "/iserver/accounts", nil, 200, nil)
	c.decode("GET", "/iserver/marketdata/snapshot?conids=756733&fields=31", nil, 200, nil)
}

func TestAccountsResponse(t *testing.T) {
	e := newEnv(t, ibsim.Options{AccountID: "DU7654321", BridgeDelay: -1})
	c := e.client(e.vector)
	c.login()
	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"compete": true}, 200, nil)
	var accounts struct {
		Accounts        []string `json:"accounts"`
		SelectedAccount string   `json:"selectedAccount"`
		IsPaper         bool     `json:"isPaper"`
	}
	c.decode("GET", "/iserver/accounts", nil, 200, &accounts)
	if len(accounts.Accounts) != 1 || accounts.Accounts[0] != "DU7654321" || accounts.SelectedAccount != "DU7654321" {
		t.Errorf("accounts = %+v, want DU7654321 only", accounts)
	}
	if !accounts.IsPaper {
		t.Error("a DU account is not reported as paper")
	}
}

func TestIdleTimeoutDropsSession(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()

	// Activity within the timeout keeps the session.
	e.clock.Advance(4 * time.Minute)
	c.decode("POST", "/tickle", nil, 200, nil)
	e.clock.Advance(4 * time.Minute)
	c.decode("GET", "/iserver/accounts", nil, 200, nil)

	e.clock.Advance(ibsim.DefaultIdleTimeout + time.Second)
	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")
	if view := e.sim.Session(vectorKey); view.Initialized || view.Primed {
		t.Errorf("session after idle timeout = %+v, want dropped", view)
	}
}

func TestTickleFields(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	for _, method := range []string{"GET", "POST"} {
		e.clock.Advance(time.Second) // tickle is limited to 1 request a second
		var tickle struct {
			Session    string         `json:"session"`
			SSOExpires int64          `json:"ssoExpires"`
			Collission *bool          `json:"collission"`
			UserID     int64          `json:"userId"`
			HMDS       map[string]any `json:"hmds"`
			IServer    struct {
				AuthStatus map[string]any `json:"authStatus"`
			} `json:"iserver"`
		}
		c.decode(method, "/tickle", nil, 200, &tickle)
		if len(tickle.Session) != 32 {
			t.Errorf("%s tickle: session %q is not 32 hex characters", method, tickle.Session)
		}
		if tickle.SSOExpires != ibsim.DefaultIdleTimeout.Milliseconds() {
			t.Errorf("%s tickle: ssoExpires = %d, want %d", method, tickle.SSOExpires, ibsim.DefaultIdleTimeout.Milliseconds())
		}
		if tickle.Collission == nil || *tickle.Collission {
			t.Errorf("%s tickle: collission = %v, want false", method, tickle.Collission)
		}
		if tickle.UserID == 0 || tickle.HMDS["error"] != "no bridge" {
			t.Errorf("%s tickle: userId %d, hmds %v", method, tickle.UserID, tickle.HMDS)
		}
		if tickle.IServer.AuthStatus["authenticated"] != true {
			t.Errorf("%s tickle: iserver.authStatus = %v", method, tickle.IServer.AuthStatus)
		}
	}
}

func TestCompetingSession(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()

	e.sim.SimulateCompetingLogin(vectorKey)
	status := authStatus(t, c)
	if status["competing"] != true || status["authenticated"] != false {
		t.Errorf("after a competing login: %v", status)
	}
	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")
	e.clock.Advance(time.Second)
	var tickle map[string]any
	c.decode("GET", "/tickle", nil, 200, &tickle)
	if tickle["collission"] != true {
		t.Errorf("tickle collission = %v, want true", tickle["collission"])
	}

	var init map[string]any
	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"publish": true, "compete": false}, 200, &init)
	if init["competing"] != true || init["authenticated"] != false {
		t.Errorf("init with compete=false kept nothing competing: %v", init)
	}

	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"publish": true, "compete": true}, 200, nil)
	e.clock.Advance(ibsim.DefaultBridgeDelay)
	c.decode("GET", "/iserver/accounts", nil, 200, nil)
	if status := authStatus(t, c); status["competing"] != false || status["authenticated"] != true {
		t.Errorf("after compete=true: %v", status)
	}
}

func TestLogoutEndsSession(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	var out map[string]bool
	c.decode("POST", "/logout", nil, 200, &out)
	if !out["status"] {
		t.Errorf("logout response = %v", out)
	}
	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")
	// The LST outlives the brokerage session.
	c.decode("GET", "/iserver/auth/status", nil, 200, nil)
}

func TestNightlyResetTrigger(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	e.sim.NightlyReset()
	wantError(t, c, "GET", "/iserver/marketdata/snapshot?conids=756733", nil, http.StatusBadRequest, "Bad Request: no bridge")

	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"compete": true}, 200, nil)
	e.clock.Advance(ibsim.DefaultBridgeDelay)
	wantError(t, c, "GET", "/iserver/marketdata/snapshot?conids=756733", nil, 500, "Please query /accounts first")
}

func TestNightlyResetByClock(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	clock := ibsim.NewManualClock(time.Date(2025, 8, 6, 0, 10, 0, 0, newYork))
	e := newEnv(t, ibsim.Options{Clock: clock})
	e.clock = clock
	c := e.client(e.vector)
	c.startSession()

	clock.Advance(3 * time.Minute) // 00:13 ET
	c.decode("GET", "/iserver/accounts", nil, 200, nil)
	clock.Advance(3 * time.Minute) // 00:16 ET, past the 00:15 reset
	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")
}

func TestDropSession(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	e.sim.DropSession(vectorKey)
	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")
}
