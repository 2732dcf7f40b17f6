package orderform

import (
	"slices"
	"testing"
	"time"
)

func TestNewYorkDate(t *testing.T) {
	tests := []struct {
		utc  string
		want string
	}{
		{"2026-03-03T04:59:00Z", "2026-03-02"}, // 23:59 EST
		{"2026-03-03T05:00:00Z", "2026-03-03"}, // midnight EST
		{"2026-07-01T03:59:00Z", "2026-06-30"}, // 23:59 EDT
		{"2026-07-01T04:00:00Z", "2026-07-01"}, // midnight EDT
	}
	for _, tt := range tests {
		at, _ := time.Parse(time.RFC3339, tt.utc)
		got := NewYorkDate(at)
		if got.Format(DateLayout) != tt.want || got.Location() != time.UTC || got.Hour() != 0 {
			t.Errorf("NewYorkDate(%s) = %v, want %s at midnight UTC", tt.utc, got, tt.want)
		}
	}
}

func TestIBDates(t *testing.T) {
	got, err := FromIBDates([]string{"20260306", "20260302", "20260306"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || ToIBDate(got[0]) != "20260302" || ToIBDate(got[1]) != "20260306" {
		t.Errorf("FromIBDates = %v, want two sorted unique dates", got)
	}
	if _, err := FromIBDates([]string{"2026-03-06"}); err == nil {
		t.Error("FromIBDates accepted an ISO date")
	}
	if _, err := FromIBDate("AUG25"); err == nil {
		t.Error("FromIBDate accepted a month code")
	}
}

func TestNearestDates(t *testing.T) {
	listed := []time.Time{date("2026-03-02"), date("2026-03-04"), date("2026-03-06"), date("2026-03-20")}
	tests := []struct {
		target string
		n      int
		want   []string
	}{
		{"2026-03-05", 2, []string{"2026-03-04", "2026-03-06"}},
		{"2026-03-03", 1, []string{"2026-03-04"}}, // a tie goes to the later date
		{"2026-04-01", 2, []string{"2026-03-06", "2026-03-20"}},
		{"2026-03-05", 10, []string{"2026-03-02", "2026-03-04", "2026-03-06", "2026-03-20"}},
	}
	for _, tt := range tests {
		got := NearestDates(listed, date(tt.target), tt.n)
		var gotText []string
		for _, d := range got {
			gotText = append(gotText, d.Format(DateLayout))
		}
		if !slices.Equal(gotText, tt.want) {
			t.Errorf("NearestDates(%s, %d) = %v, want %v", tt.target, tt.n, gotText, tt.want)
		}
	}
	if got := NearestDates(nil, date("2026-03-05"), 3); len(got) != 0 {
		t.Errorf("NearestDates(nil) = %v", got)
	}
}

func TestByMoneyness(t *testing.T) {
	strikes := []float64{480, 490, 495, 500, 505, 510, 520}
	got := ByMoneyness(strikes, 502.5)
	want := []float64{500, 505, 495, 510, 490, 520, 480}
	if !slices.Equal(got, want) {
		t.Errorf("ByMoneyness = %v, want %v", got, want)
	}
	if strikes[0] != 480 {
		t.Error("ByMoneyness changed its input")
	}
}

func TestNearestStrikes(t *testing.T) {
	got := NearestStrikes([]float64{480, 490, 495, 500, 505, 510, 520}, 515, 3)
	if want := []float64{505, 510, 520}; !slices.Equal(got, want) {
		t.Errorf("NearestStrikes = %v, want %v", got, want)
	}
}

func TestFilterStrikes(t *testing.T) {
	strikes := []float64{500, 505, 495, 510, 50, 502.5}
	tests := []struct {
		typed string
		want  []float64
	}{
		{"", strikes},
		{"50", []float64{500, 505, 50, 502.5}},
		{"502", []float64{502.5}},
		{"49", []float64{495}},
		{"7", nil},
	}
	for _, tt := range tests {
		if got := FilterStrikes(strikes, tt.typed); !slices.Equal(got, tt.want) {
			t.Errorf("FilterStrikes(%q) = %v, want %v", tt.typed, got, tt.want)
		}
	}
}

func TestFilterDates(t *testing.T) {
	dates := []time.Time{date("2026-03-02"), date("2026-03-20"), date("2026-12-18")}
	if got := FilterDates(dates, "-12-"); len(got) != 1 || !got[0].Equal(date("2026-12-18")) {
		t.Errorf("FilterDates(-12-) = %v", got)
	}
	if got := FilterDates(dates, ""); len(got) != 3 {
		t.Errorf("FilterDates(\"\") = %v", got)
	}
}
