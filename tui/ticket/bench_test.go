package ticket

import (
	"testing"

	"github.com/ibdash/ibdash/ibclient/orderform"
)

// BenchmarkView renders the ticket at 120x37, the box it gets in a
// 120x40 terminal, with data from the simulator. It times the form with
// the strikes listed and the quote loaded, then IB's what-if preview.
func BenchmarkView(b *testing.B) {
	e := newSimEnv(b)
	d := newDriver(b, e, e.options(nil))
	d.m.SetSize(120, 37)
	fillPut(b, d, e)
	d.focusField(orderform.FieldStrike)

	b.Run("form", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = d.m.View()
		}
	})

	d.set(orderform.FieldStopLoss, "3x")
	d.press("ctrl+s")
	d.waitFor("the preview", func() bool { return d.m.step == stepPreview })
	b.Run("preview", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = d.m.View()
		}
	})
}
