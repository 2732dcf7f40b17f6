//go:build !unix

package main

import "io"

// isJournalStream reports false, since systemd's journal exists only on
// Linux.
func isJournalStream(w io.Writer) bool { return false }
