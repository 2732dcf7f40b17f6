package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

// newMonitorLogger returns a logfmt logger on w. When w is the stream
// that systemd connected to the journal, the time is left out, because
// journald stamps each entry itself. Each line then starts with a syslog
// priority such as "<4>", which journald stores as the entry's priority
// (sd-daemon(3); SyslogLevelPrefix= is on by default).
func newMonitorLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if !isJournalStream(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	return slog.New(newPriorityHandler(w, opts))
}

// parseJournalStream parses JOURNAL_STREAM, which systemd sets to
// "DEVICE:INODE" of the stream it connected to the journal.
func parseJournalStream(value string) (dev, ino uint64, ok bool) {
	devText, inoText, found := strings.Cut(value, ":")
	if !found {
		return 0, 0, false
	}
	dev, err := strconv.ParseUint(devText, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	ino, err = strconv.ParseUint(inoText, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return dev, ino, true
}

// Syslog priorities (syslog(3)) for the slog levels.
const (
	priorityError   = "<3>"
	priorityWarning = "<4>"
	priorityInfo    = "<6>"
	priorityDebug   = "<7>"
)

// priorityHandler is an slog.Handler with one text handler per syslog
// priority. Each text handler's writer puts its priority in front of the
// line.
type priorityHandler struct {
	errorH, warnH, infoH, debugH slog.Handler
}

func newPriorityHandler(w io.Writer, opts *slog.HandlerOptions) *priorityHandler {
	var mu sync.Mutex
	text := func(priority string) slog.Handler {
		return slog.NewTextHandler(&prefixWriter{mu: &mu, w: w, prefix: priority}, opts)
	}
	return &priorityHandler{
		errorH: text(priorityError),
		warnH:  text(priorityWarning),
		infoH:  text(priorityInfo),
		debugH: text(priorityDebug),
	}
}

func (h *priorityHandler) handler(level slog.Level) slog.Handler {
	switch {
	case level >= slog.LevelError:
		return h.errorH
	case level >= slog.LevelWarn:
		return h.warnH
	case level >= slog.LevelInfo:
		return h.infoH
	}
	return h.debugH
}

func (h *priorityHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.handler(level).Enabled(ctx, level)
}

func (h *priorityHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler(r.Level).Handle(ctx, r)
}

func (h *priorityHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &priorityHandler{
		errorH: h.errorH.WithAttrs(attrs),
		warnH:  h.warnH.WithAttrs(attrs),
		infoH:  h.infoH.WithAttrs(attrs),
		debugH: h.debugH.WithAttrs(attrs),
	}
}

func (h *priorityHandler) WithGroup(name string) slog.Handler {
	return &priorityHandler{
		errorH: h.errorH.WithGroup(name),
		warnH:  h.warnH.WithGroup(name),
		infoH:  h.infoH.WithGroup(name),
		debugH: h.debugH.WithGroup(name),
	}
}

// prefixWriter is a writer that puts prefix in front of each Write and
// passes both to w in one Write, so that a line reaches journald whole.
// slog's text handler writes one record per call. The mutex is shared by
// the writers of one logger.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(p.prefix)+len(b))
	line = append(line, p.prefix...)
	line = append(line, b...)

	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(line); err != nil {
		return 0, err
	}
	return len(b), nil
}
