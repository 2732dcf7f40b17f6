package audit

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// orderServer plays IB's order endpoint: it echoes the request body's
// length and returns an ack.
func orderServer(t *testing.T, hits *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/orders"):
			if !strings.Contains(string(body), `"cOID":"t-1"`) {
				http.Error(w, `{"error":"body did not arrive whole"}`, http.StatusBadRequest)
				return
			}
			io.WriteString(w, `[{"order_id":"1001","order_status":"PreSubmitted"}]`)
		case strings.HasPrefix(r.URL.Path, "/big/"):
			io.WriteString(w, strings.Repeat("a", MaxBodyBytes+100))
		default:
			io.WriteString(w, `{"authenticated":true}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTransportRecordsOrderExchange(t *testing.T) {
	var hits atomic.Int32
	srv := orderServer(t, &hits)
	l, path := openTemp(t)
	client, err := NewHTTPClient(l, nil)
	if err != nil {
		t.Fatal(err)
	}

	const signature = "c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
	body := `{"orders":[{"acctId":"DU1","conid":801,"cOID":"t-1","side":"SELL"}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/api/iserver/account/DU1/orders", strings.NewReader(body))
	req.Header.Set("Authorization", `OAuth oauth_signature="`+signature+`"`)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s: the server did not get the whole body", resp.StatusCode, got)
	}
	if !strings.Contains(string(got), `"order_id":"1001"`) {
		t.Errorf("caller read %q, want the whole ack", got)
	}

	records, warnings, err := ReadFile(path)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("ReadFile: %v, warnings %v", err, warnings)
	}
	if len(records) != 2 {
		t.Fatalf("read %d records, want request and response", len(records))
	}
	reqRec, respRec := records[0], records[1]
	if reqRec.Kind != KindRequest || reqRec.Method != "POST" || reqRec.Endpoint != "/v1/api/iserver/account/DU1/orders" {
		t.Errorf("request record = %+v", reqRec)
	}
	if reqRec.COID != "t-1" || respRec.COID != "t-1" {
		t.Errorf("cOIDs = %q, %q, want t-1 from the body", reqRec.COID, respRec.COID)
	}
	if !strings.Contains(string(reqRec.Body), `"side":"SELL"`) {
		t.Errorf("request body = %s", reqRec.Body)
	}
	if respRec.Kind != KindResponse || respRec.Status != 200 || !strings.Contains(string(respRec.Body), "PreSubmitted") {
		t.Errorf("response record = %+v", respRec)
	}

	raw, _ := os.ReadFile(path)
	for _, secret := range []string{signature, "Authorization", "oauth_signature"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

func TestTransportSkipsOtherEndpoints(t *testing.T) {
	var hits atomic.Int32
	srv := orderServer(t, &hits)
	l, path := openTemp(t)
	client, _ := NewHTTPClient(l, nil)

	for _, endpoint := range []string{"/v1/api/iserver/auth/status", "/v1/api/iserver/account/orders", "/v1/api/iserver/account/order/status/1001"} {
		resp, err := client.Get(srv.URL + endpoint)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	records, _, _ := ReadFile(path)
	if len(records) != 0 {
		t.Fatalf("recorded %d records for GETs made for no ticket", len(records))
	}
}

func TestTransportUsesContextCOID(t *testing.T) {
	var hits atomic.Int32
	srv := orderServer(t, &hits)
	l, path := openTemp(t)
	client, _ := NewHTTPClient(l, nil)

	// A snapshot is not an order endpoint, but one made for a ticket is
	// part of that ticket's record.
	ctx := WithCOID(context.Background(), "t-9")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/api/iserver/marketdata/snapshot?conids=801", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	records, _, _ := ReadFile(path)
	if len(records) != 2 || records[0].COID != "t-9" || records[1].COID != "t-9" {
		t.Fatalf("records = %+v, want request and response filed under t-9", records)
	}
	if records[0].Endpoint != "/v1/api/iserver/marketdata/snapshot?conids=801" {
		t.Errorf("endpoint = %q", records[0].Endpoint)
	}
}

func TestTransportRedactsSecretFields(t *testing.T) {
	var hits atomic.Int32
	srv := orderServer(t, &hits)
	l, path := openTemp(t)
	client, _ := NewHTTPClient(l, nil)

	body := `{"orders":[{"cOID":"t-1","access_token_secret":"hunter2"}],"nested":{"oauth_token":"abc123"}}`
	resp, err := client.Post(srv.URL+"/v1/api/iserver/account/DU1/orders?live_session_token=xyz789", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	raw, _ := os.ReadFile(path)
	for _, secret := range []string{"hunter2", "abc123", "xyz789"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("log contains the secret value %q", secret)
		}
	}
	if !strings.Contains(string(raw), Redacted) {
		t.Errorf("log has no %s marker", Redacted)
	}
}

func TestTransportTruncatesLongBody(t *testing.T) {
	var hits atomic.Int32
	srv := orderServer(t, &hits)
	l, path := openTemp(t)
	client := &http.Client{Transport: &Transport{Log: l, Match: func(*http.Request) bool { return true }}}

	resp, err := client.Get(srv.URL + "/big/")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(got) != MaxBodyBytes+100 {
		t.Errorf("caller read %d bytes, want all %d", len(got), MaxBodyBytes+100)
	}
	records, _, _ := ReadFile(path)
	if len(records) != 2 || !records[1].Truncated || len(records[1].Text) != MaxBodyBytes {
		t.Fatalf("response record truncated=%v text=%d bytes", records[1].Truncated, len(records[1].Text))
	}
}

func TestTransportRecordsConnectionFailure(t *testing.T) {
	// A listener that accepts and closes at once: the request fails after
	// it may have reached the server, as a reset does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			io.ReadAll(io.LimitReader(conn, 1))
			conn.Close()
		}
	}()

	l, path := openTemp(t)
	client, _ := NewHTTPClient(l, nil)
	ctx := WithCOID(context.Background(), "t-2")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ln.Addr().String()+"/iserver/account/DU1/orders", strings.NewReader(`{"orders":[]}`))
	if _, err := client.Do(req); err == nil {
		t.Fatal("request to a closing server succeeded")
	}
	records, _, _ := ReadFile(path)
	if len(records) != 2 {
		t.Fatalf("read %d records, want request and failed response", len(records))
	}
	if records[1].Error == "" || records[1].Status != 0 {
		t.Errorf("response record = %+v, want an error and no status", records[1])
	}
}

func TestTransportHoldsRequestWhenLogFails(t *testing.T) {
	var hits atomic.Int32
	srv := orderServer(t, &hits)
	l, _ := openTemp(t)
	client, _ := NewHTTPClient(l, nil)
	l.Close()

	_, err := client.Post(srv.URL+"/iserver/account/DU1/orders", "application/json", strings.NewReader(`{"orders":[{"cOID":"t-1"}]}`))
	if err == nil || !strings.Contains(err.Error(), "not sent") {
		t.Fatalf("error = %v, want the request held back", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("server got %d requests, want none without a record", hits.Load())
	}
}

func TestIsOrderPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/v1/api/iserver/account/DU1/orders", true},
		{"/v1/api/iserver/account/DU1/orders/whatif", true},
		{"/v1/api/iserver/reply/5b0f3e8a", true},
		{"/v1/api/iserver/questions/suppress", true},
		{"/v1/api/iserver/questions/suppress/reset", true},
		{"/v1/api/iserver/account/orders", true},
		{"/v1/api/iserver/account/order/status/1001", true},
		{"/v1/api/iserver/account/DU1/order/1001", true},
		{"/v1/api/iserver/accounts", false},
		{"/v1/api/iserver/account", false},
		{"/v1/api/iserver/account/pnl/partitioned", false},
		{"/v1/api/iserver/marketdata/snapshot", false},
		{"/v1/api/tickle", false},
	}
	for _, tt := range tests {
		if got := IsOrderPath(tt.path); got != tt.want {
			t.Errorf("IsOrderPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestDefaultMatch(t *testing.T) {
	tagged := WithCOID(context.Background(), "t-1")
	tests := []struct {
		method, path string
		ctx          context.Context
		want         bool
	}{
		{"POST", "/v1/api/iserver/account/DU1/orders", context.Background(), true},
		{"DELETE", "/v1/api/iserver/account/DU1/order/1001", context.Background(), true},
		{"POST", "/v1/api/iserver/reply/abc", context.Background(), true},
		{"GET", "/v1/api/iserver/account/orders", context.Background(), false},
		{"GET", "/v1/api/iserver/account/orders", tagged, true},
		{"GET", "/v1/api/iserver/marketdata/snapshot", tagged, true},
		{"POST", "/v1/api/tickle", context.Background(), false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(tt.ctx, tt.method, "http://127.0.0.1"+tt.path, nil)
		if got := DefaultMatch(req); got != tt.want {
			t.Errorf("DefaultMatch(%s %s, tagged %v) = %v, want %v", tt.method, tt.path, COIDFrom(tt.ctx) != "", got, tt.want)
		}
	}
}

func TestNewHTTPClientNeedsLog(t *testing.T) {
	if _, err := NewHTTPClient(nil, nil); err != ErrNoLog {
		t.Fatalf("error = %v, want ErrNoLog", err)
	}
}
