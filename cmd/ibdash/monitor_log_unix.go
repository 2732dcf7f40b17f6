//go:build unix

package main

import (
	"io"
	"os"
	"syscall"
)

// isJournalStream reports whether w is the file that systemd connected
// to the journal. A child process inherits JOURNAL_STREAM even when its
// stderr goes elsewhere, so the variable's device and inode are compared
// with w's, as systemd.exec(5) advises.
func isJournalStream(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	dev, ino, ok := parseJournalStream(os.Getenv("JOURNAL_STREAM"))
	if !ok {
		return false
	}
	info, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}
