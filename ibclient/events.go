package ibclient

import "time"

// KeyState is the activation state of one consumer key, as the key
// watcher last found it.
type KeyState int

// The consumer key states.
const (
	KeyUnchecked     KeyState = iota // not tried yet
	KeyActive                        // the LST handshake succeeded
	KeyPending                       // IB answered invalid consumer: not activated yet, or mistyped
	KeyLSTFailed                     // IB knows the key but refused the LST
	KeyUnreachable                   // IB could not be reached
	KeyMisconfigured                 // a local key file or config value is wrong
)

var keyStateNames = [...]string{"unchecked", "active", "not yet activated", "LST failed", "unreachable", "misconfigured"}

func (s KeyState) String() string {
	if int(s) < len(keyStateNames) {
		return keyStateNames[s]
	}
	return "unknown"
}

// KeyStatus is the watcher's finding for one consumer key.
type KeyStatus struct {
	ConsumerKey string
	State       KeyState
	CheckedAt   time.Time // zero before the first check
	NextCheck   time.Time
	// ExpectedActivation is the end of IB's next weekend maintenance, set
	// while the key is pending.
	ExpectedActivation time.Time
	// Err is the decoded failure: an *APIError, *NetworkError or
	// *CredentialError; nil when the key is active.
	Err error
}

// SessionState is where the brokerage session stands.
type SessionState int

// The brokerage session states, in the order a healthy start goes through.
const (
	SessionStopped        SessionState = iota // not started, or logged out
	SessionAuthenticating                     // requesting the LST
	SessionConnecting                         // ssodh/init, waiting for the bridge
	SessionPriming                            // querying /iserver/accounts
	SessionReady                              // authenticated and connected
	SessionDegraded                           // a tickle or status call failed; retrying
	SessionFailed                             // gave up until the next retry or a restart
)

var sessionStateNames = [...]string{"stopped", "authenticating", "connecting", "priming", "ready", "degraded", "failed"}

func (s SessionState) String() string {
	if int(s) < len(sessionStateNames) {
		return sessionStateNames[s]
	}
	return "unknown"
}

// SessionEvent reports a change in the brokerage session. Every change of
// state and every failed keepalive is one event.
type SessionEvent struct {
	Time          time.Time
	State         SessionState
	Authenticated bool
	Connected     bool
	Competing     bool
	LSTExpires    time.Time
	LastTickle    time.Time
	Account       string
	// Message is a short human note, such as "tickle timed out; retrying".
	Message string
	// Err is the decoded error behind the event, or nil.
	Err error
}
