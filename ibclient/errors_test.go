package ibclient

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func response(status int, body string) *http.Response {
	u, _ := url.Parse("https://api.ibkr.com/v1/api/oauth/live_session_token")
	return &http.Response{
		StatusCode: status,
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    &http.Request{Method: http.MethodPost, URL: u},
	}
}

func TestCheckResponseEnvelopes(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		kind      Kind
		requestID string
		message   string
	}{
		{"invalid consumer 1559", 401, `{"error":"id: 1559, error: invalid consumer","statusCode":401}`, KindInvalidConsumer, "1559", "invalid consumer"},
		{"invalid consumer 1545", 401, `{"error":"id: 1545, error: invalid consumer","statusCode":401}`, KindInvalidConsumer, "1545", "invalid consumer"},
		{"LST failed empty detail", 401, `{"error":"id: 1546, error: LST failed, error: ","statusCode":401}`, KindLSTFailed, "1546", "LST failed, error:"},
		{"no access secret", 401, `{"error":"id: 1551, error: LST failed, error: No access secret key found for BEARHEDGE","statusCode":401}`, KindNoAccessSecret, "1551", "LST failed, error: No access secret key found for BEARHEDGE"},
		{"no bridge", 400, `{"error":"Bad Request: no bridge","statusCode":400}`, KindNoBridge, "", "Bad Request: no bridge"},
		{"accounts first", 500, `{"error":"Please query /accounts first","statusCode":500}`, KindAccountsNotQueried, "", "Please query /accounts first"},
		{"429 empty", 429, ``, KindRateLimited, "", "Too Many Requests"},
		{"429 text", 429, `Too Many Requests`, KindRateLimited, "", "Too Many Requests"},
		{"401 empty", 401, ``, KindUnauthenticated, "", "Unauthorized"},
		{"invalid signature", 401, `{"error":"id: 77, error: invalid signature","statusCode":401}`, KindInvalidSignature, "77", "invalid signature"},
		{"timestamp", 401, `{"error":"id: 78, error: invalid timestamp","statusCode":401}`, KindInvalidTimestamp, "78", "invalid timestamp"},
		{"nonce", 401, `{"error":"id: 79, error: nonce already used","statusCode":401}`, KindNonceReused, "79", "nonce already used"},
		{"duplicate cOID in 200", 200, `{"error":"Order couldn't be submitted: Local order ID=abc-1 is already registered."}`, KindDuplicateOrder, "", "Order couldn't be submitted: Local order ID=abc-1 is already registered."},
		{"html 502", 502, `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>x</body></html>`, KindServer, "", "HTML page: 502 Bad Gateway"},
		{"html 404 no title", 404, `<html><body>nope</body></html>`, KindMalformed, "", "HTML page instead of JSON"},
		{"truncated json 500", 500, `{"error":"id: 12, err`, KindServer, "", `truncated or invalid JSON: {"error":"id: 12, err`},
		{"truncated json 400", 400, `{"error":"id: 12, err`, KindMalformed, "", `truncated or invalid JSON: {"error":"id: 12, err`},
		{"message field", 401, `{"message":"not authenticated"}`, KindUnauthenticated, "", "not authenticated"},
		{"unknown text", 400, `{"error":"something new","statusCode":400}`, KindUnknown, "", "something new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckResponse(response(tc.status, tc.body), []byte(tc.body))
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("CheckResponse = %v, want *APIError", err)
			}
			if apiErr.Kind != tc.kind {
				t.Errorf("kind = %v, want %v", apiErr.Kind, tc.kind)
			}
			if apiErr.RequestID != tc.requestID {
				t.Errorf("request id = %q, want %q", apiErr.RequestID, tc.requestID)
			}
			if apiErr.Message != tc.message {
				t.Errorf("message = %q, want %q", apiErr.Message, tc.message)
			}
			if apiErr.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", apiErr.StatusCode, tc.status)
			}
			if apiErr.Explanation() == "" {
				t.Error("no explanation")
			}
		})
	}
}

// TestKindIgnoresRequestID checks that the same text with different ids
// decodes to the same kind, and the id never picks the kind.
func TestKindIgnoresRequestID(t *testing.T) {
	for _, id := range []string{"1545", "1546", "1551", "1559", "118871"} {
		body := `{"error":"id: ` + id + `, error: invalid consumer","statusCode":401}`
		err := CheckResponse(response(401, body), []byte(body))
		if !IsKind(err, KindInvalidConsumer) {
			t.Errorf("id %s: %v", id, err)
		}
	}
	body := `{"error":"id: 1559, error: LST failed, error: ","statusCode":401}`
	if err := CheckResponse(response(401, body), []byte(body)); !IsKind(err, KindLSTFailed) {
		t.Errorf("id 1559 with LST failed text: %v, want LST failed", err)
	}
}

func TestCheckResponseSuccess(t *testing.T) {
	for _, body := range []string{`{"authenticated":true}`, `[{"order_id":"1"}]`, ``, `{"error":null}`, `{"error":""}`} {
		if err := CheckResponse(response(200, body), []byte(body)); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	body := `{"error":"id: 1559, error: invalid consumer","statusCode":401}`
	err := CheckResponse(response(401, body), []byte(body))
	want := "ibclient: POST /v1/api/oauth/live_session_token: invalid consumer (HTTP 401, request id 1559): invalid consumer"
	if err.Error() != want {
		t.Errorf("error text\n got %s\nwant %s", err, want)
	}
	if !errors.Is(err, &APIError{Kind: KindInvalidConsumer}) {
		t.Error("errors.Is does not match on kind")
	}
	if errors.Is(err, &APIError{Kind: KindNoBridge}) {
		t.Error("errors.Is matched another kind")
	}
}

func TestReadBodyLimits(t *testing.T) {
	big := strings.Repeat("x", 100)
	_, err := readBody(response(200, big), 50)
	var tooLarge *ErrResponseTooLarge
	if !errors.As(err, &tooLarge) || tooLarge.Limit != 50 {
		t.Errorf("oversized 2xx: %v, want ErrResponseTooLarge", err)
	}
	body, err := readBody(response(200, big), 100)
	if err != nil || len(body) != 100 {
		t.Errorf("body at the limit: %d bytes, %v", len(body), err)
	}

	huge := strings.Repeat("y", maxErrorBodyBytes+10)
	body, err = readBody(response(500, huge), DefaultMaxResponseBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) != maxErrorBodyBytes {
		t.Errorf("error body read %d bytes, want the %d cap", len(body), maxErrorBodyBytes)
	}
}

func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		"id: 1559, error: invalid consumer",
		"id: 1546, error: LST failed, error: ",
		"Bad Request: no bridge",
		"id: , error: x",
		"id: 99999999999999999999999, error: y",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		id, msg := ParseEnvelope(text)
		for _, r := range id {
			if r < '0' || r > '9' {
				t.Fatalf("request id %q is not all digits", id)
			}
		}
		if len(msg) > len(text) {
			t.Fatalf("message longer than input")
		}
		_ = ClassifyMessage(401, msg)
		body := []byte(`{"error":` + quoteJSON(text) + `,"statusCode":401}`)
		if err := CheckResponse(response(401, string(body)), body); err == nil {
			t.Fatal("a 401 decoded as success")
		}
	})
}

func FuzzCheckResponseBody(f *testing.F) {
	f.Add(401, []byte(`{"error":"id: 1559, error: invalid consumer","statusCode":401}`))
	f.Add(200, []byte(`{"error":"x"}`))
	f.Add(502, []byte(`<html><title>t</title>`))
	f.Add(200, []byte(`[1,2`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		err := CheckResponse(response(status, string(body)), body)
		if status >= 300 && err == nil {
			t.Fatalf("status %d decoded as success", status)
		}
		var apiErr *APIError
		if err != nil && (!errors.As(err, &apiErr) || apiErr.Explanation() == "") {
			t.Fatalf("error %v is not an explained APIError", err)
		}
	})
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
