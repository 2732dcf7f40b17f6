package ibclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Body size limits. An IB answer larger than these is cut off and
// reported, never buffered whole.
const (
	DefaultMaxResponseBytes = 4 << 20
	maxErrorBodyBytes       = 64 << 10
)

// Kind classifies an IB error by its message text. IB's request id (the
// number after "id:") changes on every request and never decides the kind.
type Kind int

// The error kinds ibdash tells apart.
const (
	KindUnknown Kind = iota
	KindInvalidConsumer
	KindLSTFailed
	KindNoAccessSecret
	KindInvalidSignature
	KindInvalidTimestamp
	KindNonceReused
	KindNoBridge
	KindAccountsNotQueried
	KindRateLimited
	KindUnauthenticated
	KindDuplicateOrder
	KindServer
	KindMalformed
)

var kindNames = map[Kind]string{
	KindUnknown:            "unknown",
	KindInvalidConsumer:    "invalid consumer",
	KindLSTFailed:          "LST failed",
	KindNoAccessSecret:     "no access secret key",
	KindInvalidSignature:   "invalid signature",
	KindInvalidTimestamp:   "invalid timestamp",
	KindNonceReused:        "nonce reused",
	KindNoBridge:           "no bridge",
	KindAccountsNotQueried: "accounts not queried",
	KindRateLimited:        "rate limited",
	KindUnauthenticated:    "unauthenticated or expired session",
	KindDuplicateOrder:     "duplicate order id",
	KindServer:             "server error",
	KindMalformed:          "malformed response",
}

func (k Kind) String() string {
	if name, ok := kindNames[k]; ok {
		return name
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// explanations holds, per kind, what the error means and the next step.
var explanations = map[Kind]string{
	KindUnknown:            "IB returned an error ibdash does not recognise; read the message and retry once.",
	KindInvalidConsumer:    "IB does not know this consumer key yet: new keys become active after IB's weekend restart (Saturday 03:00 ET), so wait for it, and check that the key is typed in upper case exactly as the portal shows it.",
	KindLSTFailed:          "IB rejected the live session token request: regenerate the access token and secret in the Self-Service Portal, paste both into the config, and try again after a minute.",
	KindNoAccessSecret:     "IB has no access token secret for this consumer: generate a new access token in the Self-Service Portal and paste the token and its secret into the config.",
	KindInvalidSignature:   "IB could not verify the request signature: check that signature_key is the private half of the signing key uploaded for this consumer, and that the realm is right.",
	KindInvalidTimestamp:   "IB rejected the request timestamp: set the system clock with NTP, then retry.",
	KindNonceReused:        "IB saw this nonce before: retry; if it repeats, something is replaying requests.",
	KindNoBridge:           "The brokerage session is not up yet: ibdash retries ssodh/init with backoff; if it persists, another session may be competing.",
	KindAccountsNotQueried: "IB wants /iserver/accounts called first, which is normal after the nightly reset: ibdash queries it and retries.",
	KindRateLimited:        "IB's rate limit was hit: ibdash backs off for the penalty window (up to 10 minutes) before sending again.",
	KindUnauthenticated:    "The session is not authenticated or has expired: ibdash rebuilds the live session token and the brokerage session.",
	KindDuplicateOrder:     "An order with this client order id (cOID) is already registered: check live orders before sending again, since the first one may have gone through.",
	KindServer:             "IB's server failed: retry later; do not resend an order without checking live orders first.",
	KindMalformed:          "IB's answer could not be read: it may be an HTML error page or cut short; retry later.",
}

// APIError is a decoded IB error: from a non-2xx answer, or from a 2xx
// answer whose JSON carries an "error" field.
type APIError struct {
	StatusCode int
	Endpoint   string // path below the base URL, for context
	RequestID  string // IB's per-request id from "id: N", or ""
	Message    string // IB's message text without the id prefix
	Kind       Kind
	// RetryAfter is the wait that a 429's Retry-After header requests, or 0.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("ibclient: ")
	if e.Endpoint != "" {
		b.WriteString(e.Endpoint + ": ")
	}
	fmt.Fprintf(&b, "%s (HTTP %d", e.Kind, e.StatusCode)
	if e.RequestID != "" {
		b.WriteString(", request id " + e.RequestID)
	}
	b.WriteString(")")
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Explanation returns what the error means and the next step, in one
// sentence or two.
func (e *APIError) Explanation() string { return explanations[e.Kind] }

// Is lets errors.Is match on kind: errors.Is(err, &APIError{Kind: KindNoBridge}).
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Kind == e.Kind && t.StatusCode == 0 && t.Message == ""
}

// IsKind reports whether err is an *APIError of the given kind.
func IsKind(err error, kind Kind) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Kind == kind
}

// NetworkError is a failure to reach IB at all: DNS, refused connection,
// reset, timeout. Whether a request reached IB is unknown.
type NetworkError struct {
	Op  string
	Err error
}

func (e *NetworkError) Error() string { return "ibclient: " + e.Op + ": " + e.Err.Error() }
func (e *NetworkError) Unwrap() error { return e.Err }

// envelopeID matches IB's "id: N, error: " prefix.
var envelopeID = regexp.MustCompile(`^\s*id:\s*(\d+)\s*,\s*error:\s*`)

// ParseEnvelope splits IB's error text "id: N, error: TEXT" into the
// request id and the text. Text without the prefix is returned as is.
func ParseEnvelope(text string) (requestID, message string) {
	if m := envelopeID.FindStringSubmatchIndex(text); m != nil {
		return text[m[2]:m[3]], strings.TrimSpace(text[m[1]:])
	}
	return "", strings.TrimSpace(text)
}

// ClassifyMessage picks the kind from IB's message text, falling back on
// the HTTP status only when the text says nothing known.
func ClassifyMessage(status int, message string) Kind {
	text := strings.ToLower(message)
	switch {
	case strings.Contains(text, "invalid consumer"):
		return KindInvalidConsumer
	case strings.Contains(text, "no access secret key"):
		return KindNoAccessSecret
	case strings.Contains(text, "lst failed"):
		return KindLSTFailed
	case strings.Contains(text, "invalid signature"):
		return KindInvalidSignature
	case strings.Contains(text, "invalid timestamp"):
		return KindInvalidTimestamp
	case strings.Contains(text, "nonce"):
		return KindNonceReused
	case strings.Contains(text, "no bridge"):
		return KindNoBridge
	case strings.Contains(text, "query /accounts first") || strings.Contains(text, "query accounts first"):
		return KindAccountsNotQueried
	case strings.Contains(text, "too many requests") || strings.Contains(text, "rate limit"):
		return KindRateLimited
	case strings.Contains(text, "is already registered") || strings.Contains(text, "duplicate order"):
		return KindDuplicateOrder
	case strings.Contains(text, "not authenticated") || strings.Contains(text, "unauthorized") ||
		strings.Contains(text, "invalid token") || strings.Contains(text, "expired"):
		return KindUnauthenticated
	}

	switch {
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusUnauthorized:
		return KindUnauthenticated
	case status >= 500:
		return KindServer
	}
	return KindUnknown
}

// errorBody is IB's error JSON; statusCode repeats the HTTP status.
type errorBody struct {
	Error      *string `json:"error"`
	StatusCode int     `json:"statusCode"`
	Message    string  `json:"message"`
}

// CheckResponse returns an *APIError for a non-2xx answer, or for a 2xx
// answer whose body is a JSON object with a non-empty "error" field. body
// is what was read of the response (through a size limit).
func CheckResponse(resp *http.Response, body []byte) error {
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	var eb errorBody
	jsonErr := json.Unmarshal(body, &eb)
	hasError := jsonErr == nil && eb.Error != nil && *eb.Error != ""
	if ok && !hasError {
		return nil
	}

	apiErr := &APIError{StatusCode: resp.StatusCode, Endpoint: endpointOf(resp)}
	redirect := resp.StatusCode >= 300 && resp.StatusCode < 400
	switch {
	case redirect:
		apiErr.Message = fmt.Sprintf("redirected to %s, which ibdash does not follow; check base_url", truncate(resp.Header.Get("Location"), 120))
	case hasError:
		apiErr.RequestID, apiErr.Message = ParseEnvelope(*eb.Error)
	case jsonErr == nil && eb.Message != "":
		apiErr.RequestID, apiErr.Message = ParseEnvelope(eb.Message)
	case len(strings.TrimSpace(string(body))) == 0:
		apiErr.Message = http.StatusText(resp.StatusCode)
	default:
		apiErr.Message = describeUnreadable(body)
	}
	apiErr.Kind = ClassifyMessage(resp.StatusCode, apiErr.Message)
	if resp.StatusCode == http.StatusTooManyRequests {
		apiErr.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	if apiErr.Kind == KindUnknown && jsonErr != nil && len(body) > 0 && !redirect {
		apiErr.Kind = KindMalformed
	}
	return apiErr
}

// describeUnreadable summarises a body that is not IB's JSON, such as an
// HTML error page or a truncated answer, without dumping it.
func describeUnreadable(body []byte) string {
	text := strings.TrimSpace(string(body))
	lower := strings.ToLower(text)
	if strings.HasPrefix(lower, "<!doctype") || strings.HasPrefix(lower, "<html") {
		if m := regexp.MustCompile(`(?is)<title>(.*?)</title>`).FindStringSubmatch(text); m != nil {
			return "HTML page: " + truncate(strings.TrimSpace(m[1]), 80)
		}
		return "HTML page instead of JSON"
	}
	if strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[") {
		return "truncated or invalid JSON: " + truncate(text, 80)
	}
	return truncate(text, 120)
}

func endpointOf(resp *http.Response) string {
	if resp.Request == nil || resp.Request.URL == nil {
		return ""
	}
	return resp.Request.Method + " " + resp.Request.URL.Path
}

// ErrResponseTooLarge reports a body over the size limit.
type ErrResponseTooLarge struct {
	Endpoint string
	Limit    int64
}

func (e *ErrResponseTooLarge) Error() string {
	return fmt.Sprintf("ibclient: %s: response exceeds %d bytes; the answer is not what IB sends, retry later", e.Endpoint, e.Limit)
}

// readBody reads and closes resp.Body through a size limit. Error bodies
// get a smaller limit; a body over the limit is an error.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		limit = maxErrorBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		// A body cut by a reset is still worth decoding as far as it goes.
		if len(body) > 0 && resp.StatusCode >= 300 {
			return body, nil
		}
		return nil, &NetworkError{Op: "reading " + endpointOf(resp), Err: err}
	}
	if int64(len(body)) > limit {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode >= 300 {
			return body[:limit], nil
		}
		return nil, &ErrResponseTooLarge{Endpoint: endpointOf(resp), Limit: limit}
	}
	return body, nil
}
