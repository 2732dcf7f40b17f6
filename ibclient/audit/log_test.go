package audit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Log, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "ibdash", "orders.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	_, path := openTemp(t)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got&^FileMode != 0 {
		t.Errorf("file mode = %v, want at most %v", got, FileMode)
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := dir.Mode().Perm(); got&^FolderMode != 0 {
		t.Errorf("folder mode = %v, want at most %v", got, FolderMode)
	}
}

func TestOpenRejectsEmptyPath(t *testing.T) {
	_, err := Open("")
	if err == nil || !strings.Contains(err.Error(), "orders.audit_log") {
		t.Fatalf("Open(\"\") error = %v, want one naming orders.audit_log", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	fixed := time.Date(2026, 3, 2, 15, 4, 5, 0, time.FixedZone("EST", -5*3600))
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	l, err := Open(path, WithClock(func() time.Time { return fixed }))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	if err := l.Write(Record{Kind: KindRequest, COID: "c1", Method: "POST", Endpoint: "/iserver/account/DU1/orders",
		Body: []byte(`{"orders":[{"cOID":"c1"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Answer("c1", "q-1", []string{"o163", "o354"}, []string{"price far from market"}, false, AnsweredByUser); err != nil {
		t.Fatal(err)
	}
	if err := l.Event("c1", "lookup after timeout: order found"); err != nil {
		t.Fatal(err)
	}

	records, warnings, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v, want none", warnings)
	}
	if len(records) != 3 {
		t.Fatalf("read %d records, want 3", len(records))
	}
	if !records[0].Time.Equal(fixed) || records[0].Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v in UTC", records[0].Time, fixed)
	}
	if string(records[0].Body) != `{"orders":[{"cOID":"c1"}]}` {
		t.Errorf("body = %s", records[0].Body)
	}
	answer := records[1]
	if answer.Kind != KindAnswer || answer.QuestionID != "q-1" || answer.AnsweredBy != AnsweredByUser {
		t.Errorf("answer record = %+v", answer)
	}
	if answer.Confirmed == nil || *answer.Confirmed {
		t.Errorf("confirmed = %v, want false", answer.Confirmed)
	}
	if strings.Join(answer.MessageIDs, ",") != "o163,o354" {
		t.Errorf("message ids = %v", answer.MessageIDs)
	}
	if records[2].Kind != KindEvent || records[2].Note == "" {
		t.Errorf("event record = %+v", records[2])
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	l, _ := openTemp(t)
	l.Close()
	if err := l.Event("c1", "late"); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

func writeNumbered(t *testing.T, l *Log, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := l.Event("c"+strconv.Itoa(i), "step "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadSkipsTornTail(t *testing.T) {
	l, path := openTemp(t)
	writeNumbered(t, l, 0, 3)
	l.Close()

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"time":"2026-03-02T15:04:05Z","kind":"ev`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	records, warnings, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 {
		t.Fatalf("read %d records, want the 3 before the torn line", len(records))
	}
	for i, r := range records {
		if r.COID != "c"+strconv.Itoa(i) {
			t.Errorf("record %d cOID = %q", i, r.COID)
		}
	}
	if len(warnings) != 1 || warnings[0].Line != 4 || !strings.Contains(warnings[0].Reason, "torn") {
		t.Fatalf("warnings = %v, want one for the torn line 4", warnings)
	}
}

func TestReopenAfterTornTail(t *testing.T) {
	l, path := openTemp(t)
	writeNumbered(t, l, 0, 2)
	l.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"time":"2026-03-02T15:0`)
	f.Close()

	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	writeNumbered(t, l, 2, 4)
	l.Close()

	records, warnings, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 4 {
		t.Fatalf("read %d records, want 4 (2 before and 2 after the torn line)", len(records))
	}
	if records[2].COID != "c2" || records[3].COID != "c3" {
		t.Errorf("records after the torn line = %q, %q", records[2].COID, records[3].COID)
	}
	if len(warnings) != 1 || warnings[0].Line != 3 {
		t.Fatalf("warnings = %v, want one for line 3", warnings)
	}
}

func TestReadKeepsCompleteLastLine(t *testing.T) {
	input := `{"time":"2026-03-02T15:04:05Z","kind":"event","coid":"a"}` + "\n" +
		`{"time":"2026-03-02T15:04:06Z","kind":"event","coid":"b"}`
	records, warnings, err := Read(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2 {
		t.Fatalf("read %d records, want 2", len(records))
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0].Reason, "kept") {
		t.Errorf("warnings = %v, want one saying the line was kept", warnings)
	}
}

func TestReadLongLine(t *testing.T) {
	// Longer than bufio.Scanner's default 64 KiB token, which Read must
	// not be limited by.
	note := strings.Repeat("x", 200<<10)
	input := fmt.Sprintf(`{"time":"2026-03-02T15:04:05Z","kind":"event","note":%q}`+"\n", note)
	records, warnings, err := Read(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || len(records[0].Note) != len(note) || len(warnings) != 0 {
		t.Fatalf("records = %d, warnings = %v", len(records), warnings)
	}
}

// crashChildEnv names the log a child process writes to until killed.
const crashChildEnv = "IBDASH_AUDIT_CRASH_CHILD"

// TestCrashChild is the child of TestSurvivesKilledWriter; it does
// nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("helper process for TestSurvivesKilledWriter")
	}
	l, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	// Large records make a kill during a write more likely.
	pad := strings.Repeat("p", 32<<10)
	for i := 0; ; i++ {
		if err := l.Write(Record{Kind: KindEvent, COID: "c" + strconv.Itoa(i), Note: pad}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
}

func TestSurvivesKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Wait until the child has written a few dozen lines, then kill it
	// (only this child, by its own process handle) while it writes.
	deadline := time.Now().Add(30 * time.Second)
	for countLines(path) < 40 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child wrote too few lines before the deadline; stderr: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	records, warnings, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) < 40 {
		t.Fatalf("read %d records, want at least 40", len(records))
	}
	for i, r := range records {
		if r.COID != "c"+strconv.Itoa(i) {
			t.Fatalf("record %d has cOID %q: an earlier line was lost or damaged", i, r.COID)
		}
	}
	if len(warnings) > 1 {
		t.Fatalf("warnings = %v, want at most one, for the last line", warnings)
	}
	if len(warnings) == 1 && warnings[0].Line != len(records)+1 {
		t.Fatalf("warning on line %d, want only the last line %d", warnings[0].Line, len(records)+1)
	}

	// A new writer after the crash appends cleanly.
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Event("after", "restart"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	again, _, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(records)+1 || again[len(again)-1].COID != "after" {
		t.Fatalf("after restart read %d records, want %d ending with \"after\"", len(again), len(records)+1)
	}
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	r := bufio.NewReader(f)
	for {
		_, err := r.ReadBytes('\n')
		if err != nil {
			return n
		}
		n++
	}
}
