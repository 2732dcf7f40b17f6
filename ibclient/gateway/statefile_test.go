package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "restarts.json")
	want := []Restart{{
		Time:       time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC),
		Finished:   time.Date(2026, 3, 2, 14, 0, 3, 0, time.UTC),
		Reason:     "port 4001: CLOSE_WAIT 31 >= 20 for 3 scans",
		Ports:      []PortCounts{{Port: 4001, Listening: true, Counts: Counts{CloseWait: 31, Established: 2}}},
		Command:    []string{"systemctl", "restart", "ib-gateway"},
		ExitStatus: 0,
		Output:     "ok\n",
	}}
	if err := saveState(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("loaded %d records, want 1", len(got))
	}
	if !got[0].Time.Equal(want[0].Time) || got[0].Reason != want[0].Reason || got[0].Ports[0].CloseWait != 31 {
		t.Errorf("loaded %+v, want %+v", got[0], want[0])
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("state file mode = %o, want 600", mode)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state folder holds %d files, want only the state file (no temporary left)", len(entries))
	}
}

func TestStateFileMissingIsEmpty(t *testing.T) {
	got, err := loadState(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || got != nil {
		t.Errorf("loadState of a missing file = %v, %v; want nil, nil", got, err)
	}
}

func TestStateFileKeepsNewest(t *testing.T) {
	path := tempStateFile(t)
	var restarts []Restart
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxStoredRestarts + 10 {
		restarts = append(restarts, Restart{Time: start.Add(time.Duration(i) * time.Hour)})
	}
	if err := saveState(path, restarts); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != maxStoredRestarts {
		t.Fatalf("stored %d records, want %d", len(got), maxStoredRestarts)
	}
	if !got[len(got)-1].Time.Equal(restarts[len(restarts)-1].Time) {
		t.Error("the newest record was dropped")
	}
}

func TestStateFileRejectsOtherVersion(t *testing.T) {
	path := tempStateFile(t)
	os.WriteFile(path, []byte(`{"version": 9, "restarts": []}`), 0o600)
	_, err := loadState(path)
	if err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("error = %v, want one naming version 9", err)
	}
}
