package tui

import (
	"time"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/gateway"
)

// The messages below carry live data into the dashboard. cmd/ibdash
// sends them with Program.Send from the goroutines that read the key
// watcher, the session and the gateway watchdog, so the model never reads
// shared state. Errors from any source arrive as common.ErrorMsg.

// KeyStatusMsg is one finding of the consumer key watcher.
type KeyStatusMsg struct {
	Status ibclient.KeyStatus
}

// SessionMsg is one change of the brokerage session.
type SessionMsg struct {
	Event ibclient.SessionEvent
}

// GatewayMsg is one scan of the gateway ports, as the watchdog filled it
// in (history, strikes, held-back restarts).
type GatewayMsg struct {
	Snapshot gateway.Snapshot
}

// tickMsg is the once-a-second clock tick that moves the countdowns.
type tickMsg time.Time

// taskDoneMsg ends the task with the given id.
type taskDoneMsg struct {
	id     int
	result string
	err    error
}

// recheckRequestMsg asks the root model to recheck one consumer key.
type recheckRequestMsg struct {
	consumerKey string
}
