package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ibdash/ibdash/tui/common"
)

// taskShown is how long a finished task stays in the status line.
const taskShown = 15 * time.Second

var errTaskTimeout = errors.New("no answer in time")

// taskKind tells the task types apart, for the quit check and to match a
// key recheck with the status that ends it.
type taskKind int

const (
	taskRecheck taskKind = iota
	taskCancel
)

// task is one network action the user started, shown until a while
// after it ends.
type task struct {
	id       int
	kind     taskKind
	subject  string // the consumer key or the order id
	label    string // such as "recheck NEWKEY01"
	started  time.Time
	finished time.Time // zero while running
	result   string
	err      error
}

func (t *task) running() bool { return t.finished.IsZero() }

// taskList is the tasks of this run, oldest first. Ids grow, so a reply
// for a task that already timed out is recognised and dropped.
type taskList struct {
	items  []*task
	nextID int
}

func (l *taskList) start(kind taskKind, subject, label string, now time.Time) *task {
	l.nextID++
	t := &task{id: l.nextID, kind: kind, subject: subject, label: label, started: now}
	l.items = append(l.items, t)
	return t
}

func (l *taskList) get(id int) *task {
	for _, t := range l.items {
		if t.id == id {
			return t
		}
	}
	return nil
}

// runningFor returns the running task of a kind for a subject, or nil.
func (l *taskList) runningFor(kind taskKind, subject string) *task {
	for _, t := range l.items {
		if t.kind == kind && t.subject == subject && t.running() {
			return t
		}
	}
	return nil
}

func (l *taskList) anyRunning(kind taskKind) bool {
	for _, t := range l.items {
		if t.kind == kind && t.running() {
			return true
		}
	}
	return false
}

// expire drops finished tasks shown long enough and returns the ids of
// running ones past the timeout.
func (l *taskList) expire(now time.Time, timeout time.Duration) []int {
	var late []int
	kept := l.items[:0]
	for _, t := range l.items {
		if !t.running() && now.Sub(t.finished) > taskShown {
			continue
		}
		if t.running() && now.Sub(t.started) > timeout {
			late = append(late, t.id)
		}
		kept = append(kept, t)
	}
	l.items = kept
	return late
}

// finishTask ends a task with its result. A task that already ended (by
// timeout) keeps its first result.
func (m *Model) finishTask(id int, result string, err error) {
	t := m.tasks.get(id)
	if t == nil || !t.running() {
		return
	}
	t.finished = m.common.Now()
	t.result, t.err = result, err
	if t.kind == taskRecheck {
		m.keys.setChecking(t.subject, false)
	}
	if err != nil && !errors.Is(err, errTaskTimeout) {
		m.errors.add(t.finished, t.label, err)
	}
}

// startRecheck begins a recheck of one consumer key. The task ends when
// the watcher's next status for that key arrives, or on the timeout.
func (m *Model) startRecheck(consumerKey string) tea.Cmd {
	if m.opts.Recheck == nil {
		return m.setNotice("Recheck is not available: no key watcher is running.", common.ToneWarn, false)
	}
	if m.tasks.runningFor(taskRecheck, consumerKey) != nil {
		return m.setNotice("A recheck of "+consumerKey+" is already running.", common.ToneInfo, false)
	}
	t := m.tasks.start(taskRecheck, consumerKey, "recheck "+consumerKey, m.common.Now())
	m.keys.setChecking(consumerKey, true)

	recheck, id, timeout := m.opts.Recheck, t.id, m.opts.TaskTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := recheck(ctx, consumerKey); err != nil {
			return taskDoneMsg{id: id, err: err}
		}
		return nil
	}
}

// startCancel begins the cancel of one order.
func (m *Model) startCancel(o Order) tea.Cmd {
	if m.opts.CancelOrder == nil {
		return m.setNotice("Cancel is not available: there is no trading session.", common.ToneWarn, false)
	}
	if m.tasks.runningFor(taskCancel, o.ID) != nil {
		return m.setNotice("A cancel of order "+o.ID+" is already running.", common.ToneInfo, false)
	}
	t := m.tasks.start(taskCancel, o.ID, "cancel order "+o.ID, m.common.Now())

	cancelOrder, id, timeout := m.opts.CancelOrder, t.id, m.opts.TaskTimeout
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		result, err := cancelOrder(ctx, o)
		return taskDoneMsg{id: id, result: result, err: err}
	}
}

// taskParts returns the tasks for the status line: running ones with
// their age, then finished ones with their result.
func (m *Model) taskParts() []part {
	now := m.common.Now()
	var parts []part
	for _, t := range m.tasks.items {
		switch {
		case t.running():
			parts = append(parts, part{fmt.Sprintf("⟳ %s… %s", t.label, common.Duration(now.Sub(t.started))), common.ToneInfo})
		case t.err != nil:
			parts = append(parts, part{fmt.Sprintf("✗ %s: %s", t.label, trimPrefix(t.err.Error())), common.ToneBad})
		default:
			parts = append(parts, part{fmt.Sprintf("✓ %s: %s", t.label, t.result), common.ToneOK})
		}
	}
	return parts
}
