package common

import (
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func TestTruncateAtWordBoundary(t *testing.T) {
	cases := []struct {
		in    string
		width int
		want  string
	}{
		{"short", 10, "short"},
		{"hello world", 11, "hello world"},
		{"hello world", 10, "hello…"},
		{"hello big world", 12, "hello big…"},
		{"supercalifragilistic", 6, "super…"},
		{"a, b, c", 5, "a, b…"},
		{"anything", 1, "…"},
		{"anything", 0, ""},
	}
	for _, c := range cases {
		if got := Truncate(c.in, c.width); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
	}
}

func TestWrapKeepsWords(t *testing.T) {
	got := Wrap("the quick brown fox jumps", 10)
	want := []string{"the quick", "brown fox", "jumps"}
	if len(got) != len(want) {
		t.Fatalf("Wrap = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestCountdownUnits(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		after time.Duration
		want  string
	}{
		{-time.Second, "now"},
		{0, "now"},
		{12 * time.Second, "12s"},
		{4*time.Minute + 9*time.Second, "4m 09s"},
		{3*time.Hour + 5*time.Minute + 59*time.Second, "3h 05m"},
		{52 * time.Hour, "2d 4h"},
	}
	for _, c := range cases {
		if got := Countdown(now, now.Add(c.after)); got != c.want {
			t.Errorf("Countdown(+%s) = %q, want %q", c.after, got, c.want)
		}
	}
}

func TestAgoNeverForZeroTime(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	if got := Ago(now, time.Time{}); got != "never" {
		t.Errorf("Ago(zero) = %q, want never", got)
	}
	if got := Ago(now, now.Add(-90*time.Second)); got != "1m 30s ago" {
		t.Errorf("Ago(-90s) = %q, want 1m 30s ago", got)
	}
}

func TestWidthMatchesAnsi(t *testing.T) {
	cases := []string{
		"plain ascii",
		"\x1b[1;38;5;111mbold blue\x1b[0m and plain",
		"╭──╮ │ ▸ › · … ⟳ ✓ ✗ ▁▂▃█ ↑↓/jk",
		"Zürich — café",
		"日本語 wide",
		"emoji 🙂 here",
		"e\u0301 combining",
		"\x1b]8;;http://127.0.0.1/\x07link\x1b]8;;\x07",
	}
	for _, s := range cases {
		if got, want := Width(s), ansi.StringWidth(s); got != want {
			t.Errorf("Width(%q) = %d, ansi.StringWidth = %d", s, got, want)
		}
	}
}

func TestFitWidthPadsAndCuts(t *testing.T) {
	if got := FitWidth("abc", 5); got != "abc  " {
		t.Errorf("FitWidth pad = %q", got)
	}
	if got := FitWidth("abcdef", 4); got != "abc…" {
		t.Errorf("FitWidth cut = %q", got)
	}
}
