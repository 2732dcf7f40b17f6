// Package gateway watches the TCP sockets of a local IB Gateway and
// restarts it when the API stops responding.
//
// IB Gateway (TWS API, port 4001 live and 4002 paper) can keep accepting
// TCP connections while the sockets it holds pile up in CLOSE_WAIT and
// the API never replies; only a restart clears that state. The package
// has three parts:
//
//   - SocketScanner counts the sockets whose local port is a gateway
//     port, by TCP state, per port and optionally per process. It asks
//     the kernel through NETLINK_SOCK_DIAG with an in-kernel port filter,
//     the way ss(8) does, and reads /proc/net/tcp{,6} when netlink is not
//     available.
//   - Probe performs the TWS API handshake and reports whether the
//     server sent its version, which catches a gateway that accepts TCP
//     and never answers.
//   - Watchdog scans on an interval, runs the restart command when
//     CLOSE_WAIT stays at or over a threshold (or the probe keeps
//     failing) for several scans in a row, honours a cooldown and an
//     hourly cap, and keeps the restart history in a JSON state file.
//
// The package imports no UI code. The dashboard receives Snapshots and
// Restart records through the Watchdog's callbacks.
package gateway
