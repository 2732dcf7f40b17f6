package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// stateVersion is the format version written to the state file.
const stateVersion = 1

// maxStoredRestarts bounds the history in the state file; the hourly cap
// and the cooldown need only the last hour of it.
const maxStoredRestarts = 200

// Restart is one restart of the gateway, or in dry-run mode one that
// would have run.
type Restart struct {
	Time time.Time `json:"time"`
	// Finished is zero while the command runs. The watchdog saves the
	// record before it starts the command, so a record loaded with a
	// zero Finished is from an ibdash that stopped during the command.
	Finished time.Time `json:"finished,omitzero"`
	// Reason names the ports and the rule that fired, such as
	// "port 4001: CLOSE_WAIT 31 >= 20 for 3 scans".
	Reason string `json:"reason"`
	// Ports are the counts of the scan that triggered the restart.
	Ports   []PortCounts `json:"ports"`
	Command []string     `json:"command"`
	DryRun  bool         `json:"dry_run"`
	// ExitStatus is the exit code, or -1 when the command did not exit
	// by itself (dry run, not found, timed out, killed).
	ExitStatus int `json:"exit_status"`
	// Error is the command's failure; empty on success and in dry runs.
	Error string `json:"error,omitempty"`
	// Output is the tail of the command's combined stdout and stderr, at
	// most MaxOutputTail bytes.
	Output          string `json:"output,omitempty"`
	OutputTruncated bool   `json:"output_truncated,omitempty"`
}

// Failed reports whether the command ran and failed.
func (r Restart) Failed() bool { return !r.DryRun && r.Error != "" }

// interruptedError is the Error of a loaded record whose restart command
// had not finished when ibdash stopped.
const interruptedError = "ibdash stopped while the restart command ran, so its result is unknown"

// cooldownStart returns the time the cooldown after r counts from: the
// end of the command, or its start when it had not finished.
func (r Restart) cooldownStart() time.Time {
	if r.Finished.IsZero() {
		return r.Time
	}
	return r.Finished
}

// PortCounts is the state of one port when a restart was triggered.
type PortCounts struct {
	Port      int  `json:"port"`
	Listening bool `json:"listening"`
	Counts
	ProbeError string `json:"probe_error,omitempty"`
}

// stateFile is the JSON document on disk.
type stateFile struct {
	Version  int       `json:"version"`
	Restarts []Restart `json:"restarts"`
}

// loadState reads the restart history at path. A missing file is an
// empty history. A record without a finish time gets interruptedError.
func loadState(path string) ([]Restart, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: read state file: %w", err)
	}
	var state stateFile
	if err := json.Unmarshal(data, &state); err != nil {
		return nil, fmt.Errorf("gateway: state file %s is not valid JSON (%v); move it aside to start with an empty restart history", path, err)
	}
	if state.Version != stateVersion {
		return nil, fmt.Errorf("gateway: state file %s has version %d, expected %d; move it aside to start with an empty restart history", path, state.Version, stateVersion)
	}
	for i, r := range state.Restarts {
		if r.Finished.IsZero() && !r.DryRun && r.Error == "" {
			state.Restarts[i].Error = interruptedError
		}
	}
	return state.Restarts, nil
}

// saveState writes the last maxStoredRestarts records to path
// atomically: a temporary file in the same folder is written, synced
// and renamed over path, and the folder is synced, so a crash leaves
// either the old file or the new one.
func saveState(path string, restarts []Restart) error {
	if len(restarts) > maxStoredRestarts {
		restarts = restarts[len(restarts)-maxStoredRestarts:]
	}
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, Restarts: restarts}, "", "  ")
	if err != nil {
		return fmt.Errorf("gateway: encode state file: %w", err)
	}
	data = append(data, '\n')

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("gateway: create state folder: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("gateway: write state file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename

	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("gateway: write state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("gateway: sync state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gateway: write state file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gateway: replace state file: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("gateway: sync state folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("gateway: sync state folder: %w", err)
	}
	return nil
}
