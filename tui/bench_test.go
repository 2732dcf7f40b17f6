package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

// benchmarkView renders the full dashboard with one of each kind of
// live data, as the program does after every message.
func benchmarkView(b *testing.B, width, height int) {
	m := New(testOptions())
	feed(m, tea.WindowSizeMsg{Width: width, Height: height})
	feed(m, sampleData()...)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

func BenchmarkView120x40(b *testing.B) { benchmarkView(b, 120, 40) }
func BenchmarkView80x24(b *testing.B)  { benchmarkView(b, 80, 24) }

// BenchmarkUpdateTick is the work of one clock tick: the update and the
// frame it causes.
func BenchmarkUpdateTick(b *testing.B) {
	m := New(testOptions())
	feed(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	feed(m, sampleData()...)
	b.ReportAllocs()
	for b.Loop() {
		m.onTick(fixedNow)
		_ = m.View()
	}
}
