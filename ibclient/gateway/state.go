package gateway

import "fmt"

// TCPState is a Linux TCP socket state, numbered as in the kernel's
// include/net/tcp_states.h (and the st column of /proc/net/tcp).
type TCPState uint8

// The TCP states that the kernel reports.
const (
	StateEstablished TCPState = 1
	StateSynSent     TCPState = 2
	StateSynRecv     TCPState = 3
	StateFinWait1    TCPState = 4
	StateFinWait2    TCPState = 5
	StateTimeWait    TCPState = 6
	StateClose       TCPState = 7
	StateCloseWait   TCPState = 8
	StateLastAck     TCPState = 9
	StateListen      TCPState = 10
	StateClosing     TCPState = 11
	StateNewSynRecv  TCPState = 12
)

var stateNames = [...]string{
	StateEstablished: "ESTABLISHED",
	StateSynSent:     "SYN_SENT",
	StateSynRecv:     "SYN_RECV",
	StateFinWait1:    "FIN_WAIT1",
	StateFinWait2:    "FIN_WAIT2",
	StateTimeWait:    "TIME_WAIT",
	StateClose:       "CLOSE",
	StateCloseWait:   "CLOSE_WAIT",
	StateLastAck:     "LAST_ACK",
	StateListen:      "LISTEN",
	StateClosing:     "CLOSING",
	StateNewSynRecv:  "NEW_SYN_RECV",
}

// String returns the kernel's name of the state, such as CLOSE_WAIT.
func (s TCPState) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("TCPState(%d)", uint8(s))
}

// allStatesMask selects every state in an inet_diag request: bit N is
// state N, and states run from 1 to 12.
const allStatesMask = 1<<(StateNewSynRecv+1) - 2

// Counts is the number of sockets in each state that matters for a
// gateway. Listening sockets are not counted here; PortStats.Listening
// reports them.
type Counts struct {
	Established int `json:"established"`
	CloseWait   int `json:"close_wait"`
	TimeWait    int `json:"time_wait"`
	// Other is every state besides these three and LISTEN, such as
	// SYN_RECV, FIN_WAIT1 and LAST_ACK.
	Other int `json:"other"`
}

// Total returns the number of sockets counted.
func (c Counts) Total() int { return c.Established + c.CloseWait + c.TimeWait + c.Other }

// add counts one socket in state s; LISTEN is not counted.
func (c *Counts) add(s TCPState) {
	switch s {
	case StateEstablished:
		c.Established++
	case StateCloseWait:
		c.CloseWait++
	case StateTimeWait:
		c.TimeWait++
	case StateListen:
	default:
		c.Other++
	}
}
