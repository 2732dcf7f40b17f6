// Package audit keeps the order record: an append-only JSON Lines file of
// every order request sent to IB, every response, and every answer the
// user gave to IB's confirmation questions.
//
// Each line is written with one write call and synced to disk before the
// call returns, so a crash loses at most the line being written. Read
// skips a torn line with a warning and keeps every line before it.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File modes of the log and of the folder Open creates: the record names
// accounts and positions, so only the owner may read it.
const (
	FileMode   os.FileMode = 0o600
	FolderMode os.FileMode = 0o700
)

// MaxBodyBytes is the largest request or response body stored in one
// record; a longer body is cut and marked Truncated.
const MaxBodyBytes = 64 << 10

// Kind names what a record is.
type Kind string

// The record kinds.
const (
	KindRequest  Kind = "request"  // a request about to be sent
	KindResponse Kind = "response" // IB's response, or the error in its place
	KindAnswer   Kind = "answer"   // an answer to one of IB's questions
	KindEvent    Kind = "event"    // a step without HTTP, such as a lookup's outcome
)

// Who answered a question, for Record.AnsweredBy.
const (
	AnsweredByUser     = "user"          // typed at a prompt or pressed in the ticket
	AnsweredByFlag     = "flag --yes"    // confirmed ahead of time on the command line
	AnsweredBySuppress = "suppress list" // an id listed in orders.suppress_questions
)

// Record is one line of the log. Fields that do not apply are left out of
// the JSON.
type Record struct {
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	// COID is the client order id of the ticket the record belongs to.
	COID string `json:"coid,omitempty"`

	Method   string `json:"method,omitempty"`
	Endpoint string `json:"endpoint,omitempty"` // URL path and query, without scheme and host
	Status   int    `json:"status,omitempty"`   // HTTP status of a response
	// Body is a JSON body as sent or received, with secret-looking
	// fields redacted; Text holds a body that is not JSON.
	Body      json.RawMessage `json:"body,omitempty"`
	Text      string          `json:"text,omitempty"`
	Truncated bool            `json:"truncated,omitempty"`
	ElapsedMS int64           `json:"elapsed_ms,omitempty"`
	Error     string          `json:"error,omitempty"`

	QuestionID string   `json:"question_id,omitempty"`
	MessageIDs []string `json:"message_ids,omitempty"`
	Messages   []string `json:"messages,omitempty"`
	Confirmed  *bool    `json:"confirmed,omitempty"`
	AnsweredBy string   `json:"answered_by,omitempty"`

	Note string `json:"note,omitempty"`
}

// Log is an open audit log. It is safe for concurrent use.
type Log struct {
	mu     sync.Mutex
	file   *os.File
	path   string
	now    func() time.Time
	err    error // first failed write after the request went out
	closed bool
}

// Option configures Open.
type Option func(*Log)

// WithClock sets the clock that stamps records. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(l *Log) {
		if now != nil {
			l.now = now
		}
	}
}

// Open opens the log at path for appending, creating the file (mode 0600)
// and its folder (mode 0700) when missing. When the file ends in a torn
// line from an earlier crash, Open ends that line first, so the next
// record starts on a line of its own.
func Open(path string, opts ...Option) (*Log, error) {
	if path == "" {
		return nil, errors.New("audit: log path is empty; set orders.audit_log in the config")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, FolderMode); err != nil {
		return nil, fmt.Errorf("audit: creating folder %s: %w", dir, err)
	}

	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("audit: opening %s: %w", path, err)
	}
	if created {
		// The folder entry of a new file must reach the disk too, or a
		// crash could lose the whole file.
		syncFolder(dir)
	}
	if err := endTornLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: repairing the end of %s: %w", path, err)
	}

	l := &Log{file: f, path: path, now: time.Now}
	for _, opt := range opts {
		opt(l)
	}
	return l, nil
}

// endTornLine appends a newline when the file is not empty and does not
// end with one.
func endTornLine(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, info.Size()-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return err
	}
	return f.Sync()
}

func syncFolder(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	// Some file systems do not support syncing a folder; the file itself
	// is still synced after every line.
	_ = d.Sync()
	d.Close()
}

// Path returns the file the log writes to.
func (l *Log) Path() string { return l.path }

// Write appends r as one line and syncs the file. A zero r.Time is set
// from the log's clock.
func (l *Log) Write(r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("audit: %s is closed", l.path)
	}
	if r.Time.IsZero() {
		r.Time = l.now()
	}
	r.Time = r.Time.UTC()

	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encoding a %s record: %w", r.Kind, err)
	}
	line = append(line, '\n')
	if _, err := l.file.Write(line); err != nil {
		return fmt.Errorf("audit: writing %s: %w", l.path, err)
	}
	if err := l.file.Sync(); err != nil {
		return fmt.Errorf("audit: syncing %s: %w", l.path, err)
	}
	return nil
}

// Answer records the user's answer to one of IB's questions.
func (l *Log) Answer(coid, questionID string, messageIDs, messages []string, confirmed bool, by string) error {
	return l.Write(Record{
		Kind:       KindAnswer,
		COID:       coid,
		QuestionID: questionID,
		MessageIDs: messageIDs,
		Messages:   messages,
		Confirmed:  &confirmed,
		AnsweredBy: by,
	})
}

// Event records a step that is not an HTTP exchange, such as the outcome
// of a lookup by cOID after a timeout.
func (l *Log) Event(coid, note string) error {
	return l.Write(Record{Kind: KindEvent, COID: coid, Note: note})
}

// Err returns the error of the first record write that failed after its
// request had already gone out (see Transport), or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Log) keepErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

// Close closes the file. Later writes fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.file.Close()
}

// Warning is a line Read skipped, with its 1-based number and the reason.
type Warning struct {
	Line   int
	Reason string
}

func (w Warning) String() string { return fmt.Sprintf("line %d: %s", w.Line, w.Reason) }

// Read decodes the records of a log. A line that is not a valid record is
// skipped with a warning. At the end of the file such a line was torn by a
// crash mid-write. Elsewhere it is a torn line that Open has since ended
// with a newline. Every valid line is returned, so one torn line never
// hides the records around it. The error is for a failed read only.
func Read(r io.Reader) ([]Record, []Warning, error) {
	var records []Record
	var warnings []Warning
	br := bufio.NewReader(r)
	for number := 1; ; number++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return records, warnings, fmt.Errorf("audit: reading line %d: %w", number, err)
		}
		atEnd := errors.Is(err, io.EOF)
		complete := bytes.HasSuffix(line, []byte{'\n'})
		trimmed := bytes.TrimSpace(line)

		if len(trimmed) > 0 {
			var rec Record
			switch decodeErr := json.Unmarshal(trimmed, &rec); {
			case decodeErr != nil && !complete:
				warnings = append(warnings, Warning{number, "torn last line (the program stopped mid-write); skipped"})
			case decodeErr != nil:
				warnings = append(warnings, Warning{number, "not a valid record, probably torn by an earlier crash; skipped: " + decodeErr.Error()})
			default:
				if !complete {
					warnings = append(warnings, Warning{number, "last line has no newline but is a complete record; kept"})
				}
				records = append(records, rec)
			}
		}
		if atEnd {
			return records, warnings, nil
		}
	}
}

// ReadFile reads the log at path with Read.
func ReadFile(path string) ([]Record, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// coidKey is the context key of the ticket's cOID.
type coidKey struct{}

// WithCOID returns a context that carries the ticket's cOID, so the
// Transport files every request made with it under that ticket.
func WithCOID(ctx context.Context, coid string) context.Context {
	return context.WithValue(ctx, coidKey{}, coid)
}

// COIDFrom returns the cOID that WithCOID stored in ctx, or "".
func COIDFrom(ctx context.Context) string {
	coid, _ := ctx.Value(coidKey{}).(string)
	return coid
}
