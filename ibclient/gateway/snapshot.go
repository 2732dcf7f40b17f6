package gateway

import "time"

// Snapshot is the result of one scan of every configured gateway port.
// Durations encode as nanoseconds in JSON, as time.Duration does.
type Snapshot struct {
	Time  time.Time   `json:"time"`
	Ports []PortStats `json:"ports"`
	// Source is "netlink" or "proc": where the socket table was read.
	Source string `json:"source"`
	// Fallback is the netlink error that made the scanner switch to
	// /proc; empty when netlink works or SourceProc was chosen.
	Fallback string        `json:"fallback,omitempty"`
	Duration time.Duration `json:"duration"`
	// Error is set when the scan failed; Ports is then empty.
	Error string `json:"error,omitempty"`

	// The fields below are filled in by a Watchdog, not by the scanner.

	// HeldBack is the reason a due restart did not run (cooldown, hourly
	// cap, no restart command); empty when none is due or it ran.
	HeldBack string `json:"held_back,omitempty"`
	// NextRestartAllowed is when the cooldown and the hourly cap next
	// allow a restart; zero when one is allowed now.
	NextRestartAllowed time.Time `json:"next_restart_allowed,omitzero"`
}

// Port returns the stats of one port, or false when it was not scanned.
func (s *Snapshot) Port(port int) (*PortStats, bool) {
	for i := range s.Ports {
		if s.Ports[i].Port == port {
			return &s.Ports[i], true
		}
	}
	return nil, false
}

// PortStats is the socket count of one gateway port: sockets whose local
// port is this port, which are the ones the gateway holds.
type PortStats struct {
	Port      int  `json:"port"`
	Listening bool `json:"listening"`
	Counts
	// Processes has one entry per process that matched the configured
	// name or pid, with the sockets it holds on this port. It is empty
	// when no process is configured.
	Processes []ProcessCounts `json:"processes,omitempty"`
	// Unmapped counts sockets on this port whose inode was not in the
	// inode-to-process map. Sockets accepted since the map's last refresh
	// land here until the next one, and a socket still in the accept
	// queue has no inode and is not counted. Only set when a process is
	// configured.
	Unmapped int `json:"unmapped,omitempty"`
	// Probe is the TWS API handshake result; nil when probing is off.
	Probe *ProbeResult `json:"probe,omitempty"`

	// The fields below are filled in by a Watchdog.

	// CloseWaitHistory holds the last CLOSE_WAIT counts, oldest first,
	// for a sparkline.
	CloseWaitHistory []int `json:"close_wait_history,omitempty"`
	// CloseWaitStrikes is how many scans in a row had CLOSE_WAIT at or
	// over the threshold; ProbeStrikes, how many failed the probe.
	CloseWaitStrikes int `json:"close_wait_strikes,omitempty"`
	ProbeStrikes     int `json:"probe_strikes,omitempty"`
}

// ProcessCounts is the sockets one process holds on a port.
type ProcessCounts struct {
	PID int `json:"pid"`
	// Name is the process's comm (at most 15 bytes, as the kernel keeps it).
	Name      string `json:"name"`
	Listening bool   `json:"listening"`
	Counts
}

// ProbeResult is the outcome of one TWS API handshake.
type ProbeResult struct {
	OK bool `json:"ok"`
	// ServerVersion and ConnectionTime are the two fields of the server's
	// reply, such as 176 and "20250805 09:30:00 EST".
	ServerVersion  int           `json:"server_version,omitempty"`
	ConnectionTime string        `json:"connection_time,omitempty"`
	Latency        time.Duration `json:"latency"`
	Error          string        `json:"error,omitempty"`
}
