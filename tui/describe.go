package tui

import (
	"context"
	"errors"
	"strings"

	"github.com/ibdash/ibdash/ibclient"
)

// errorInfo is an error broken into what the errors panel shows.
type errorInfo struct {
	RequestID   string // IB's per-request id, "" when not an IB answer
	Kind        string // short class, such as "invalid consumer"
	Message     string // the message text, without the package prefix
	Explanation string // what it means and the next step
}

// describeError decodes err for display. An *ibclient.APIError keeps its
// request id, kind and IB's own explanation; network and credential
// errors get a next step of their own.
func describeError(err error) errorInfo {
	var apiErr *ibclient.APIError
	var netErr *ibclient.NetworkError
	var credErr *ibclient.CredentialError
	switch {
	case errors.As(err, &apiErr):
		return errorInfo{
			RequestID:   apiErr.RequestID,
			Kind:        apiErr.Kind.String(),
			Message:     apiErr.Message,
			Explanation: apiErr.Explanation(),
		}
	case errors.As(err, &credErr):
		next := credErr.Fix
		if next == "" {
			next = "correct the file or config value it names, then press r on the key to check again."
		}
		return errorInfo{
			Kind:        "credential",
			Message:     trimPrefix(credErr.Error()),
			Explanation: "A local key file or config value cannot be used: " + next,
		}
	case errors.As(err, &netErr):
		return errorInfo{
			Kind:        "network",
			Message:     trimPrefix(netErr.Error()),
			Explanation: "IB could not be reached, so whether the request arrived is unknown: check the network and base_url; ibdash retries on its own. Check live orders before sending an order again.",
		}
	case errors.Is(err, context.DeadlineExceeded):
		return errorInfo{
			Kind:        "timeout",
			Message:     trimPrefix(err.Error()),
			Explanation: "The request timed out before an answer came: retry; for an order, check live orders first.",
		}
	}
	return errorInfo{
		Kind:        "error",
		Message:     trimPrefix(err.Error()),
		Explanation: "ibdash has no explanation for this error; see the --debug log for details.",
	}
}

// trimPrefix drops the "ibclient: " prefix that every client error
// carries, which only takes room on screen.
func trimPrefix(msg string) string {
	return strings.TrimPrefix(msg, "ibclient: ")
}
