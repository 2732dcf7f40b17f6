package ibsim_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ibdash/ibdash/ibclient/ibsim"
)

func addFault(t *testing.T, sim *ibsim.Server, f ibsim.Fault) int {
	t.Helper()
	id, err := sim.AddFault(f)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestFaultLatency(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultLatency, Latency: time.Minute, Count: 1})

	impatient := &http.Client{Transport: e.http.Client().Transport, Timeout: 50 * time.Millisecond}
	_, err := c.sendWith(impatient, "GET", "/iserver/auth/status", nil)
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Fatalf("request under a minute of latency: error %v, want a client timeout", err)
	}
	// Count 1: the next request is not delayed.
	c.decode("GET", "/iserver/auth/status", nil, 200, nil)
}

func TestFaultSlowResponse(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultSlowResponse, PathPrefix: "/iserver/auth/ssodh/init", Latency: time.Minute, Count: 1})

	impatient := &http.Client{Transport: e.http.Client().Transport, Timeout: 200 * time.Millisecond}
	_, err := c.sendWith(impatient, "POST", "/iserver/auth/ssodh/init", map[string]bool{"publish": true, "compete": true})
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Fatalf("request under a minute of held response: error %v, want a client timeout", err)
	}
	// Unlike FaultLatency, the endpoint ran before the response was held.
	if !e.sim.Session(vectorKey).Initialized {
		t.Error("ssodh/init did not take effect before the response was held back")
	}

	// The server logs the request once it notices the client went away.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var line map[string]any
		for _, l := range e.logs.requests(t) {
			if l["faults"] == "slow-response" {
				line = l
			}
		}
		if line != nil {
			if line["status"] != float64(499) || !strings.Contains(line["error"].(string), "took effect") {
				t.Errorf("log line = %v, want status 499 and an error saying the request took effect", line)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slow-response log line within 10 s:\n%s", e.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Count 1: the next request gets its response at once.
	c.decode("GET", "/iserver/auth/status", nil, 200, nil)
}

func TestFaultServerError(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultServerError, Status: 502, Count: 1})

	resp, err := c.send("POST", "/iserver/auth/ssodh/init", map[string]bool{"compete": true})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(body), "<title>502 Bad Gateway</title>") {
		t.Errorf("status %d, body %s; want an HTML 502 page", resp.StatusCode, body)
	}
	// The endpoint did not run.
	if e.sim.Session(vectorKey).Initialized {
		t.Error("ssodh/init took effect behind a 5xx")
	}
	c.decode("POST", "/iserver/auth/ssodh/init", map[string]bool{"compete": true}, 200, nil)

	if _, err := e.sim.AddFault(ibsim.Fault{Kind: ibsim.FaultServerError, Status: 404}); err == nil {
		t.Error("AddFault accepted status 404 for a server error")
	}
}

func TestFaultMalformedJSON(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultMalformedJSON, Count: 1})

	status, body := c.do("GET", "/iserver/auth/status", nil)
	if status != 200 {
		t.Errorf("status %d, want 200", status)
	}
	var v any
	if err := json.Unmarshal(body, &v); err == nil {
		t.Errorf("body %s parsed as JSON", body)
	}
	if !strings.HasPrefix(string(body), "{") {
		t.Errorf("body %q does not start like JSON", body)
	}
}

func TestFaultTruncatedBody(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultTruncatedBody, Count: 1})

	resp, err := c.send("GET", "/iserver/auth/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a truncated body: error %v, want unexpected EOF", err)
	}
	if resp.ContentLength <= int64(len(body)) {
		t.Errorf("Content-Length %d, but %d bytes arrived", resp.ContentLength, len(body))
	}
	c.decode("GET", "/iserver/auth/status", nil, 200, nil)
}

func TestFaultConnectionReset(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.login()
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultConnectionReset, Count: 1})

	if _, err := c.send("POST", "/iserver/auth/ssodh/init", map[string]bool{"compete": true}); err == nil {
		t.Fatal("a request whose connection was reset succeeded")
	}
	// The endpoint ran before the reset, as when a response is lost.
	if !e.sim.Session(vectorKey).Initialized {
		t.Error("ssodh/init did not take effect before the reset")
	}
	if line := e.logs.lastRequest(t); line["faults"] != "connection-reset" {
		t.Errorf("log line = %v, want faults connection-reset", line)
	}
}

func TestFaultLSTExpired(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultLSTExpired, Count: 1})
	c.login() // does not use up the fault

	status, body := c.do("GET", "/iserver/auth/status", nil)
	wantEnvelope(t, status, body, "live session token expired")
	status, body = c.do("GET", "/iserver/auth/status", nil)
	wantEnvelope(t, status, body, "live session token expired")

	c.login()
	c.decode("GET", "/iserver/auth/status", nil, 200, nil)
}

func TestFaultSessionDropped(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultSessionDropped, PathPrefix: "/iserver/accounts", Count: 1})

	c.decode("GET", "/tickle", nil, 200, nil)
	wantError(t, c, "GET", "/iserver/accounts", nil, http.StatusBadRequest, "Bad Request: no bridge")
}

func TestFaultScopeAndRemoval(t *testing.T) {
	e := newEnv(t, ibsim.Options{})
	c := e.client(e.vector)
	c.startSession()
	id := addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultServerError, PathPrefix: "/iserver/marketdata"})

	for range 3 {
		if status, _ := c.do("GET", "/iserver/marketdata/snapshot?conids=756733", nil); status != 503 {
			t.Fatalf("snapshot under an unlimited fault: status %d, want 503", status)
		}
	}
	c.decode("GET", "/iserver/accounts", nil, 200, nil)

	e.sim.RemoveFault(id)
	c.decode("GET", "/iserver/marketdata/snapshot?conids=756733", nil, 200, nil)

	addFault(t, e.sim, ibsim.Fault{Kind: ibsim.FaultServerError})
	e.sim.ClearFaults()
	c.decode("GET", "/iserver/accounts", nil, 200, nil)
}

func TestFaultsFromOptions(t *testing.T) {
	e := newEnv(t, ibsim.Options{Faults: []ibsim.Fault{{Kind: ibsim.FaultServerError, PathPrefix: "/tickle", Count: 2}}})
	c := e.client(e.vector)
	c.login()
	for i := range 2 {
		e.clock.Advance(time.Second)
		if status, _ := c.do("GET", "/tickle", nil); status != 503 {
			t.Errorf("tickle %d: status %d, want 503", i+1, status)
		}
	}
	e.clock.Advance(time.Second)
	c.decode("GET", "/tickle", nil, 200, nil)
}

func TestParseFaultKind(t *testing.T) {
	for _, name := range []string{"latency", "server-error", "malformed-json", "truncated-body", "connection-reset", "lst-expired", "session-dropped", "slow-response"} {
		k, err := ibsim.ParseFaultKind(name)
		if err != nil || k.String() != name {
			t.Errorf("ParseFaultKind(%q) = %v, %v", name, k, err)
		}
	}
	if _, err := ibsim.ParseFaultKind("meteor"); err == nil || !strings.Contains(err.Error(), "latency") {
		t.Errorf("unknown fault: error %v, want the list of kinds", err)
	}
	if _, err := ibsim.New(ibsim.Options{}).AddFault(ibsim.Fault{Kind: ibsim.FaultLatency}); err == nil {
		t.Error("a latency fault without a duration was accepted")
	}
	if _, err := ibsim.New(ibsim.Options{}).AddFault(ibsim.Fault{Kind: ibsim.FaultSlowResponse}); err == nil {
		t.Error("a slow-response fault without a duration was accepted")
	}
	if _, err := ibsim.New(ibsim.Options{}).AddFault(ibsim.Fault{Kind: ibsim.FaultSlowResponse + 1}); err == nil {
		t.Error("an undefined fault kind was accepted")
	}
}
