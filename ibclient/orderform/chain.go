package orderform

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

// NewYorkDate returns the calendar date in New York at t, as midnight UTC
// so that it compares with the dates ParseExpiry returns.
func NewYorkDate(t time.Time) time.Time {
	y, m, d := t.In(ibclient.NewYork()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ibDateLayout is IB's form of an expiry date in secdef responses.
const ibDateLayout = "20060102"

// FromIBDate reads IB's YYYYMMDD expiry.
func FromIBDate(s string) (time.Time, error) {
	t, err := time.Parse(ibDateLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("orderform: IB expiry %q is not in the form YYYYMMDD", s)
	}
	return t, nil
}

// ToIBDate writes a date in IB's YYYYMMDD form.
func ToIBDate(t time.Time) string { return t.Format(ibDateLayout) }

// FromIBDates reads a list of IB expiries, sorted, skipping none: one bad
// date is an error.
func FromIBDates(list []string) ([]time.Time, error) {
	out := make([]time.Time, 0, len(list))
	for _, s := range list {
		t, err := FromIBDate(s)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) }), nil
}

// NearestDates returns up to n dates from listed that are closest to
// target, in date order. Dates on or after target win ties, since a
// later expiry is the usual fix for a date that is not listed.
func NearestDates(listed []time.Time, target time.Time, n int) []time.Time {
	out := slices.Clone(listed)
	distance := func(d time.Time) (time.Duration, int) {
		diff := d.Sub(target)
		if diff < 0 {
			return -diff, 1
		}
		return diff, 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, pi := distance(out[i])
		dj, pj := distance(out[j])
		if di != dj {
			return di < dj
		}
		return pi < pj
	})
	if len(out) > n {
		out = out[:n]
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// NearestStrikes returns up to n strikes from listed closest to target,
// in ascending order.
func NearestStrikes(listed []float64, target float64, n int) []float64 {
	out := ByMoneyness(listed, target)
	if len(out) > n {
		out = out[:n]
	}
	sort.Float64s(out)
	return out
}

// ByMoneyness returns a copy of strikes sorted nearest the money first:
// by distance from the underlying price, the lower strike first on a tie.
func ByMoneyness(strikes []float64, underlying float64) []float64 {
	out := slices.Clone(strikes)
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := math.Abs(out[i]-underlying), math.Abs(out[j]-underlying)
		if di != dj {
			return di < dj
		}
		return out[i] < out[j]
	})
	return out
}

// FilterStrikes returns the strikes whose written form (FormatStrike)
// starts with typed, keeping their order. Empty typed keeps them all.
func FilterStrikes(strikes []float64, typed string) []float64 {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return slices.Clone(strikes)
	}
	var out []float64
	for _, k := range strikes {
		if strings.HasPrefix(FormatStrike(k), typed) {
			out = append(out, k)
		}
	}
	return out
}

// FilterDates returns the dates whose YYYY-MM-DD form contains typed,
// keeping their order. Empty typed keeps them all.
func FilterDates(dates []time.Time, typed string) []time.Time {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return slices.Clone(dates)
	}
	var out []time.Time
	for _, d := range dates {
		if strings.Contains(d.Format(DateLayout), typed) {
			out = append(out, d)
		}
	}
	return out
}
