package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transport is an http.RoundTripper that records order requests and their
// responses in a Log before handing them on. It never records headers, so
// the Authorization header and its signature stay out of the log. Bodies
// are read once and replaced, so Base and the caller still read them whole.
//
// Put it under the signing transport: as the Base of the *http.Client that
// ibclient.WithHTTPClient receives.
type Transport struct {
	Base http.RoundTripper // default http.DefaultTransport
	Log  *Log
	// Match picks the requests to record. Nil records DefaultMatch.
	Match func(*http.Request) bool
}

// RoundTrip records req, sends it through Base and records the response.
// When the request record cannot be written, the request is not sent: an
// order without its record is worse than no order. A failed response
// record does not hide the response, since the order already went out;
// Log.Err reports it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Log == nil || !t.matches(req) {
		return base.RoundTrip(req)
	}

	out, body, err := replayableRequest(req)
	if err != nil {
		return nil, fmt.Errorf("audit: reading the body of %s %s: %w", req.Method, req.URL.Path, err)
	}
	coid := COIDFrom(req.Context())
	if coid == "" {
		coid = coidFromBody(body)
	}
	endpoint := redactURL(req.URL)

	rec := Record{Kind: KindRequest, COID: coid, Method: req.Method, Endpoint: endpoint}
	setBody(&rec, body)
	if err := t.Log.Write(rec); err != nil {
		return nil, fmt.Errorf("%w; the request was not sent", err)
	}

	start := time.Now()
	resp, sendErr := base.RoundTrip(out)
	rec = Record{Kind: KindResponse, COID: coid, Method: req.Method, Endpoint: endpoint,
		ElapsedMS: time.Since(start).Milliseconds()}
	if sendErr != nil {
		rec.Error = sendErr.Error()
		t.keep(rec)
		return nil, sendErr
	}

	respBody, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	rec.Status = resp.StatusCode
	setBody(&rec, respBody)
	if readErr != nil {
		rec.Error = "reading the response body: " + readErr.Error()
	}
	t.keep(rec)
	resp.Body = &replayBody{
		Reader: io.MultiReader(bytes.NewReader(respBody), errorReader{readErr, resp.Body}),
		closer: resp.Body,
	}
	return resp, nil
}

func (t *Transport) matches(req *http.Request) bool {
	if t.Match != nil {
		return t.Match(req)
	}
	return DefaultMatch(req)
}

// DefaultMatch picks every request made for a ticket (its context carries
// a cOID) and every order action (a POST or DELETE to an order endpoint,
// such as a cancel from the dashboard). An untagged GET of live orders or
// an order's status is not recorded: the dashboard polls those every few
// seconds and changes nothing with them.
func DefaultMatch(req *http.Request) bool {
	if COIDFrom(req.Context()) != "" {
		return true
	}
	return req.Method != http.MethodGet && IsOrderPath(req.URL.Path)
}

func (t *Transport) keep(rec Record) {
	if err := t.Log.Write(rec); err != nil {
		t.Log.keepErr(err)
	}
}

// IsOrderPath reports whether path is one of IB's order endpoints: place,
// what-if, reply, question suppression, live orders, status and cancel.
func IsOrderPath(path string) bool {
	switch {
	case strings.Contains(path, "/iserver/reply/"),
		strings.Contains(path, "/iserver/questions/suppress"):
		return true
	case strings.Contains(path, "/iserver/account/"):
		rest := path[strings.Index(path, "/iserver/account/"):]
		return strings.Contains(rest, "/order")
	}
	return false
}

// replayableRequest reads req's body and returns a clone whose body can
// be read again, along with the bytes. The original body is closed, as a
// RoundTripper must.
func replayableRequest(req *http.Request) (*http.Request, []byte, error) {
	out := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return out, nil, nil
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out, body, nil
}

// replayBody serves the bytes already read and then the rest of the
// original body, and closes the original.
type replayBody struct {
	io.Reader
	closer io.Closer
}

func (b *replayBody) Close() error { return b.closer.Close() }

// errorReader returns err once the bytes before it are served, or reads
// on from r when err is nil.
type errorReader struct {
	err error
	r   io.Reader
}

func (e errorReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return e.r.Read(p)
}

// setBody stores body in rec as JSON with secret-looking fields redacted
// when it parses, else as text. Either way it is cut at MaxBodyBytes.
func setBody(rec *Record, body []byte) {
	if len(bytes.TrimSpace(body)) == 0 {
		return
	}
	if len(body) > MaxBodyBytes {
		rec.Text = strings.ToValidUTF8(string(body[:MaxBodyBytes]), "?")
		rec.Truncated = true
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		rec.Text = strings.ToValidUTF8(string(body), "?")
		return
	}
	clean, err := json.Marshal(redact(v))
	if err != nil {
		rec.Text = "body could not be re-encoded: " + err.Error()
		return
	}
	rec.Body = clean
}

// Redacted is the value stored in place of every field whose name looks
// secret.
const Redacted = "[redacted]"

// secretNames are parts of field and query names whose values never go
// into the log. Order bodies contain none today, and this guards against
// a body that one day does.
var secretNames = []string{"token", "secret", "signature", "authorization", "password", "oauth", "private"}

func isSecretName(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range secretNames {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

func redact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if isSecretName(k) {
				x[k] = Redacted
				continue
			}
			x[k] = redact(val)
		}
	case []any:
		for i := range x {
			x[i] = redact(x[i])
		}
	}
	return v
}

// redactURL returns the path and query of u with secret-looking query
// values replaced.
func redactURL(u *url.URL) string {
	q := u.Query()
	for k := range q {
		if isSecretName(k) {
			q[k] = []string{Redacted}
		}
	}
	s := u.EscapedPath()
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// coidFromBody returns the cOID of the first order in an order body
// ({"orders":[...]}, a bare array or one object), or "".
func coidFromBody(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	type order struct {
		COID string `json:"cOID"`
	}
	var wrapped struct {
		Orders []order `json:"orders"`
	}
	if json.Unmarshal(body, &wrapped) == nil && len(wrapped.Orders) > 0 {
		return wrapped.Orders[0].COID
	}
	var bare []order
	if json.Unmarshal(body, &bare) == nil && len(bare) > 0 {
		return bare[0].COID
	}
	var single order
	if json.Unmarshal(body, &single) == nil {
		return single.COID
	}
	return ""
}

// ErrNoLog is returned by NewHTTPClient when log is nil.
var ErrNoLog = errors.New("audit: no log; open one with audit.Open")

// NewHTTPClient returns an *http.Client whose transport records order
// traffic in log on top of base (nil: a clone of http.DefaultTransport).
// Hand it to ibclient.WithHTTPClient.
func NewHTTPClient(log *Log, base http.RoundTripper) (*http.Client, error) {
	if log == nil {
		return nil, ErrNoLog
	}
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &http.Client{Transport: &Transport{Base: base, Log: log}}, nil
}
