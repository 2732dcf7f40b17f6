package main

import (
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui"
	"github.com/ibdash/ibdash/tui/common"
)

// maxQueued is how many messages may wait for one viewer's program. A
// viewer past it (a stalled connection) gets the current state instead
// of the backlog, since the state already contains everything the backlog
// would have changed.
const maxQueued = 1024

// maxReplayedErrors is how many common.ErrorMsg a new viewer is shown.
const maxReplayedErrors = 20

// broadcaster sends the data side's messages to every viewer's program.
// It also keeps the latest state (see replayState), which a viewer that
// connects later receives first, so it never waits for the next change
// of a source that rarely changes, such as the session.
type broadcaster struct {
	mu      sync.Mutex
	state   replayState
	viewers map[*viewerQueue]struct{}
	now     func() time.Time
}

func newBroadcaster() *broadcaster {
	return &broadcaster{viewers: map[*viewerQueue]struct{}{}, now: time.Now}
}

// Send records msg and queues it for every viewer; it never blocks on a
// viewer.
func (b *broadcaster) Send(msg tea.Msg) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state.record(msg, b.now())
	for q := range b.viewers {
		q.push(msg, &b.state)
	}
}

// add registers a viewer's program. The program receives the current
// state, then every later message in order: both happen under one lock,
// so no message falls between the replay and the live stream.
func (b *broadcaster) add(p sender) *viewerQueue {
	q := &viewerQueue{out: p, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.mu.Lock()
	q.pending = b.state.messages()
	b.viewers[q] = struct{}{}
	b.mu.Unlock()
	q.signal()
	go q.run()
	return q
}

// remove stops sending to a viewer; messages still queued are dropped.
func (b *broadcaster) remove(q *viewerQueue) {
	b.mu.Lock()
	delete(b.viewers, q)
	b.mu.Unlock()
	close(q.done)
}

// viewerQueue is the messages waiting for one program. Its own goroutine
// calls Send, which blocks until the program's event loop takes the
// message, so a slow viewer delays only itself.
type viewerQueue struct {
	out  sender
	wake chan struct{} // has a value when pending may be non-empty
	done chan struct{} // closed by broadcaster.remove

	mu      sync.Mutex
	pending []tea.Msg
}

func (q *viewerQueue) push(msg tea.Msg, state *replayState) {
	q.mu.Lock()
	if len(q.pending) >= maxQueued {
		q.pending = state.messages()
	} else {
		q.pending = append(q.pending, msg)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *viewerQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *viewerQueue) run() {
	for {
		select {
		case <-q.done:
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, msg := range batch {
			select {
			case <-q.done:
				return
			default:
			}
			q.out.Send(msg)
		}
	}
}

// replayState is the state a new viewer needs to draw the current dashboard:
// the latest message of each source, per consumer key for the key
// statuses, and the last few errors. Each panel of tui.Model shows only
// the latest value it was sent, so the replay rebuilds the screen of a
// viewer connected all along. The errors panel is the exception: it keeps
// a history, of which a new viewer gets the last maxReplayedErrors.
type replayState struct {
	keyOrder []string
	keys     map[string]tui.KeyStatusMsg
	session  *tui.SessionMsg
	gateway  *tui.GatewayMsg
	restart  *tui.GatewayRestartMsg
	orders   *tui.OrdersMsg
	errors   []receivedError // oldest first
}

// receivedError is a common.ErrorMsg with the time it was sent.
type receivedError struct {
	msg common.ErrorMsg
	at  time.Time
}

func (s *replayState) record(msg tea.Msg, now time.Time) {
	switch msg := msg.(type) {
	case tui.KeyStatusMsg:
		key := msg.Status.ConsumerKey
		if s.keys == nil {
			s.keys = map[string]tui.KeyStatusMsg{}
		}
		if _, seen := s.keys[key]; !seen {
			s.keyOrder = append(s.keyOrder, key)
		}
		s.keys[key] = msg
	case tui.SessionMsg:
		s.session = &msg
	case tui.GatewayMsg:
		s.gateway = &msg
	case tui.GatewayRestartMsg:
		s.restart = &msg
	case tui.OrdersMsg:
		s.orders = &msg
	case common.ErrorMsg:
		s.errors = append(s.errors, receivedError{msg: msg, at: now})
		if len(s.errors) > maxReplayedErrors {
			s.errors = s.errors[len(s.errors)-maxReplayedErrors:]
		}
	}
}

// messages returns the state as messages for a new viewer, errors first.
// The errors panel stamps a common.ErrorMsg with the time it arrives, so
// a replayed one names the time it was first sent in its source.
func (s *replayState) messages() []tea.Msg {
	var out []tea.Msg
	for _, e := range s.errors {
		msg := e.msg
		msg.Source += " at " + e.at.Format("15:04:05")
		out = append(out, msg)
	}
	for _, key := range s.keyOrder {
		out = append(out, s.keys[key])
	}
	if s.session != nil {
		out = append(out, *s.session)
	}
	if s.restart != nil {
		restart := *s.restart
		restart.Replayed = true
		out = append(out, restart)
	}
	if s.gateway != nil {
		out = append(out, *s.gateway)
	}
	if s.orders != nil {
		out = append(out, *s.orders)
	}
	return out
}
