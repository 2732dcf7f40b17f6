package ibsim

import (
	"testing"
	"time"
)

// testTime is Tuesday 5 August 2025, 10:00 America/New_York.
var testTime = time.Date(2025, 8, 5, 14, 0, 0, 0, time.UTC)

func TestNextNightlyReset(t *testing.T) {
	cases := []struct {
		name string
		from time.Time
		want time.Time
	}{
		{"tuesday morning", time.Date(2025, 8, 5, 10, 0, 0, 0, newYork), time.Date(2025, 8, 6, 0, 15, 0, 0, newYork)},
		{"just before", time.Date(2025, 8, 6, 0, 14, 0, 0, newYork), time.Date(2025, 8, 6, 0, 15, 0, 0, newYork)},
		{"friday evening skips saturday", time.Date(2025, 8, 8, 20, 0, 0, 0, newYork), time.Date(2025, 8, 10, 0, 15, 0, 0, newYork)},
	}
	for _, tc := range cases {
		if got := nextNightlyReset(tc.from); !got.Equal(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got.In(newYork), tc.want)
		}
	}
}
