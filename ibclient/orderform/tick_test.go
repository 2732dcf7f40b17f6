package orderform

import (
	"math"
	"testing"
)

func TestNewTickRule(t *testing.T) {
	rule, err := NewTickRule([]TickStep{{3, 0.05}, {0, 0.01}})
	if err != nil {
		t.Fatal(err)
	}
	if rule[0].LowerEdge != 0 || rule[1].LowerEdge != 3 {
		t.Errorf("bands not sorted: %+v", rule)
	}

	empty, err := NewTickRule(nil)
	if err != nil || len(empty) != 1 || empty[0].Increment != 0.01 {
		t.Errorf("empty rule = %+v, %v, want PennyTick", empty, err)
	}

	gap, err := NewTickRule([]TickStep{{1, 0.05}})
	if err != nil || gap[0].LowerEdge != 0 || gap.Increment(0.5) != 0.05 {
		t.Errorf("rule starting above zero = %+v, %v, want the first band extended to 0", gap, err)
	}

	for _, bad := range [][]TickStep{{{0, 0}}, {{0, -0.01}}, {{-1, 0.01}}, {{0, math.Inf(1)}}, {{math.NaN(), 0.01}}} {
		if _, err := NewTickRule(bad); err == nil {
			t.Errorf("NewTickRule(%+v) accepted an invalid band", bad)
		}
	}
}

func TestTickRuleIncrement(t *testing.T) {
	rule, _ := NewTickRule([]TickStep{{0, 0.01}, {3, 0.05}})
	tests := []struct {
		price, want float64
	}{
		{0.01, 0.01}, {2.99, 0.01}, {3.00, 0.05}, {2.9999999999, 0.05}, {12.5, 0.05},
	}
	for _, tt := range tests {
		if got := rule.Increment(tt.price); got != tt.want {
			t.Errorf("Increment(%v) = %v, want %v", tt.price, got, tt.want)
		}
	}
}

func TestTickRuleRound(t *testing.T) {
	rule, _ := NewTickRule([]TickStep{{0, 0.01}, {3, 0.05}})
	tests := []struct {
		price float64
		how   Rounding
		want  float64
	}{
		{1.005, NearestDown, 1.00},
		{1.005, NearestUp, 1.01},
		{1.004, NearestUp, 1.00},
		{3.12, NearestUp, 3.10},
		{3.13, NearestDown, 3.15},
		{3.125, NearestDown, 3.10},
		{3.125, NearestUp, 3.15},
		{3.11, Down, 3.10},
		{3.11, Up, 3.15},
		{2.995, Up, 3.00},
		{2.999, NearestUp, 3.00},
		{3.15, Up, 3.15},
		{0.1 + 0.2, Down, 0.30},
	}
	for _, tt := range tests {
		if got := rule.Round(tt.price, tt.how); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Round(%v, %d) = %v, want %v", tt.price, tt.how, got, tt.want)
		}
	}
	if got := rule.Round(-1, Up); got != -1 {
		t.Errorf("Round(-1) = %v, want the input back", got)
	}
}

func TestPennyTickOnTick(t *testing.T) {
	for _, p := range []float64{0.01, 0.07, 3.15, 12.34, 0.1 + 0.2} {
		if !PennyTick.OnTick(p) {
			t.Errorf("OnTick(%v) = false under the penny rule", p)
		}
	}
	for _, p := range []float64{0.005, 3.155} {
		if PennyTick.OnTick(p) {
			t.Errorf("OnTick(%v) = true under the penny rule", p)
		}
	}
}
