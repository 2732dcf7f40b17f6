package tui

import (
	"fmt"

	"github.com/ibdash/ibdash/ibclient/gateway"
)

// GatewayRestartMsg reports a restart the gateway watchdog ran, or
// recorded without running in dry-run mode.
type GatewayRestartMsg struct {
	Restart gateway.Restart
	// Replayed marks an earlier restart sent to a viewer who connected
	// after it: the panel shows it, without a notice or a bell.
	Replayed bool
}

// info condenses the restart record for the gateway panel and the
// notice.
func (msg GatewayRestartMsg) info() restartInfo {
	r := msg.Restart
	info := restartInfo{time: r.Time, reason: r.Reason, ok: !r.Failed(), dryRun: r.DryRun}
	for _, pc := range r.Ports {
		info.ports = append(info.ports, pc.Port)
	}
	switch {
	case r.DryRun:
		info.result = "dry run, command not run"
	case r.Error != "":
		info.result = r.Error
	default:
		info.result = fmt.Sprintf("exit %d", r.ExitStatus)
	}
	return info
}
