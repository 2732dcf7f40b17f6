package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// processInfo is one process that matched the configured name or pid.
type processInfo struct {
	pid  int
	name string
}

// processMap maps socket inodes to the configured processes. Building it
// reads every /proc/PID/fd link of those processes, one readlink per open
// file, which is the costly part of a scan. So it is rebuilt only every
// refresh interval, or when the set of listening inodes on the gateway
// ports changes, as it does when a restarted gateway listens again.
type processMap struct {
	name    string
	pid     int
	refresh time.Duration
	now     func() time.Time

	builtAt   time.Time
	built     bool
	listening []uint32
	procs     []processInfo
	owner     map[uint32]int // inode -> index in procs
}

func newProcessMap(name string, pid int, refresh time.Duration, now func() time.Time) *processMap {
	return &processMap{name: name, pid: pid, refresh: refresh, now: now}
}

// update rebuilds the map when it is stale or the listening inodes
// (sorted) differ from those seen at the last build.
func (m *processMap) update(listening []uint32) {
	now := m.now()
	if m.built && now.Sub(m.builtAt) < m.refresh && slices.Equal(listening, m.listening) {
		return
	}
	m.built = true
	m.builtAt = now
	m.listening = slices.Clone(listening)
	m.procs = m.findProcesses()
	m.owner = make(map[uint32]int)
	for i, p := range m.procs {
		readSocketInodes(p.pid, func(inode uint32) { m.owner[inode] = i })
	}
}

// lookup returns the index in procs of the process that holds inode.
func (m *processMap) lookup(inode uint32) (int, bool) {
	i, ok := m.owner[inode]
	return i, ok
}

// findProcesses returns the configured pid, if it exists, and every
// process whose comm or argv[0] base name equals the configured name.
func (m *processMap) findProcesses() []processInfo {
	var procs []processInfo
	if m.pid > 0 {
		if name, ok := readComm(m.pid); ok {
			procs = append(procs, processInfo{pid: m.pid, name: name})
		}
	}
	if m.name == "" {
		return procs
	}

	entries, err := os.ReadDir("/proc")
	if err != nil {
		return procs
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == m.pid {
			continue
		}
		comm, ok := readComm(pid)
		if !ok {
			continue
		}
		if comm == m.name || argv0Base(pid) == m.name {
			procs = append(procs, processInfo{pid: pid, name: comm})
		}
	}
	return procs
}

func readComm(pid int) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "", false
	}
	return strings.TrimSuffix(string(b), "\n"), true
}

// argv0Base returns the base name of a process's argv[0], which names
// the program even when comm was cut to 15 bytes.
func argv0Base(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return filepath.Base(string(b))
}

// readSocketInodes calls found for each socket among the open files of
// pid; a link to a socket reads "socket:[INODE]". A process that exits or
// that this user may not inspect yields nothing.
func readSocketInodes(pid int, found func(inode uint32)) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		link, err := os.Readlink(dir + e.Name())
		if err != nil || !strings.HasPrefix(link, "socket:[") || !strings.HasSuffix(link, "]") {
			continue
		}
		inode, err := strconv.ParseUint(link[len("socket:["):len(link)-1], 10, 32)
		if err == nil {
			found(uint32(inode))
		}
	}
}
