package ticket

import (
	"fmt"
	"strings"

	"github.com/ibdash/ibdash/ibclient"
	"github.com/ibdash/ibdash/ibclient/orderform"
	"github.com/ibdash/ibdash/tui/common"
)

// Column widths of the form, in cells.
const (
	labelWidth = 11
	valueWidth = 14
)

// View renders the ticket for the box set with SetSize.
func (m *Model) View() string {
	width := max(m.common.Width, 20)
	lines := []string{m.titleLine(width), ""}
	switch m.step {
	case stepPreview, stepPreparing:
		if m.plan != nil {
			lines = append(lines, m.previewLines(width)...)
		} else {
			lines = append(lines, m.formLines(width)...)
		}
	case stepPlacing, stepQuestion:
		lines = append(lines, m.placingLines(width)...)
	case stepResult:
		lines = append(lines, m.resultLines(width)...)
	default:
		lines = append(lines, m.formLines(width)...)
	}
	if m.status != "" {
		lines = append(lines, "")
		for _, l := range common.Wrap(m.status, width) {
			lines = append(lines, m.common.Styles.Info.Render(l))
		}
	}
	if h := m.common.Height; h > 0 && len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

func (m *Model) titleLine(width int) string {
	st := m.common.Styles
	title := st.Title.Render("Order ticket")
	var extra []string
	if m.chain != nil {
		extra = append(extra, m.chain.Underlying.Symbol+" "+orderform.FormatPrice(m.under))
	}
	if m.desk != nil && m.desk.Account != "" {
		extra = append(extra, m.desk.Account)
	}
	extra = append(extra, stepNames[m.step])
	return common.Truncate(title+"  "+st.Muted.Render(strings.Join(extra, " · ")), width)
}

var stepNames = map[step]string{
	stepLoading:   "loading",
	stepEdit:      "edit",
	stepPreparing: "preparing the preview",
	stepPreview:   "preview",
	stepPlacing:   "waiting for IB",
	stepQuestion:  "IB asks",
	stepResult:    "result",
	stepFailed:    "not available",
}

// formLines renders the fields, the focused field's help or listed
// values, and the quote of the chosen contract.
func (m *Model) formLines(width int) []string {
	st := m.common.Styles
	var lines []string
	for i, f := range m.fields.list {
		focused := i == m.fields.focus && m.step == stepEdit
		marker, label := "  ", st.Label.Render(common.PadRight(f.label, labelWidth))
		if focused {
			marker, label = st.Title.Render("› "), st.Title.Render(common.PadRight(f.label, labelWidth))
		}
		line := marker + label + common.PadRight(m.fieldValue(f, focused), valueWidth)
		// A field's error waits until the user has left it once, so that
		// a date or price half typed is not marked as wrong.
		if fe := m.errs.For(f.id); fe != nil && f.touched {
			line += " " + st.Bad.Render("✗ "+fe.Message)
		}
		lines = append(lines, common.Truncate(line, width))
	}
	lines = append(lines, "")
	lines = append(lines, m.focusDetail(width)...)
	if q := m.quoteLine(); q != "" {
		lines = append(lines, common.Truncate(q, width))
	}
	return lines
}

func (m *Model) fieldValue(f *field, focused bool) string {
	st := m.common.Styles
	if f.kind != kindChoice {
		if focused {
			return f.input.View()
		}
		if f.id == orderform.FieldLimit && f.value() == "" {
			return st.Muted.Render(m.limitPlaceholder())
		}
		return st.Value.Render(f.value())
	}
	// Brackets mark the chosen option, so the choice still shows under
	// NO_COLOR, where the styles lose their colors.
	parts := make([]string, len(f.options))
	for i, o := range f.options {
		switch {
		case i == f.choice && focused:
			parts[i] = st.Selected.Render("[" + o + "]")
		case i == f.choice:
			parts[i] = st.Value.Render("[" + o + "]")
		default:
			parts[i] = st.Muted.Render(" " + o + " ")
		}
	}
	return strings.Join(parts, "")
}

// limitPlaceholder describes what an empty limit becomes: the mid, or
// nothing on a market order.
func (m *Model) limitPlaceholder() string {
	if m.fields.get(orderform.FieldOrderType).value() == string(ibclient.Market) {
		return "(market)"
	}
	side, _ := orderform.ParseSide(m.fields.get(orderform.FieldSide).value())
	if mid, ok := orderform.Mid(m.quote, side, m.market.Tick); ok {
		return "mid " + orderform.FormatPrice(mid)
	}
	return "(mid)"
}

// focusDetail shows a picker's matching listed values, the full error
// of the focused field once it was left, or a hint.
func (m *Model) focusDetail(width int) []string {
	if m.step != stepEdit {
		return nil
	}
	st := m.common.Styles
	f := m.fields.focused()
	var errLines []string
	if fe := m.errs.For(f.id); fe != nil && f.touched {
		errLines = styled(st.Bad.Render, common.Wrap(fe.Error(), width))
	}

	// A picker keeps its list on screen next to its error, because the
	// list shows the values that would fix it.
	if f.kind == kindPicker && len(f.options) > 0 {
		lines := []string{m.pickerLine(f, width)}
		if errLines != nil {
			return append(lines, errLines...)
		}
		return append(lines, st.Muted.Render("↑↓ choose, enter takes it; typing filters"))
	}
	if errLines != nil {
		return errLines
	}
	if f.kind == kindPicker {
		return []string{st.Muted.Render("Listed values load once the fields before this one are valid.")}
	}
	return styled(st.Muted.Render, common.Wrap(hints[f.id], width))
}

// pickerLine lists the picker's matches that fit in width, the
// highlighted one marked.
func (m *Model) pickerLine(f *field, width int) string {
	st := m.common.Styles
	matches := f.matches()
	if len(matches) == 0 {
		return st.Warn.Render(common.Truncate("Nothing listed matches "+f.input.Value()+"; the checks will say what is near.", width))
	}
	line := st.Label.Render("listed ")
	used := common.Width(line)
	for i, o := range matches {
		cell := " " + o + " "
		if used+len(cell) > width {
			break
		}
		if i == f.pick {
			cell = st.Selected.Render(cell)
		}
		line += cell
		used += len(" " + o + " ")
	}
	return line
}

var hints = map[orderform.Field]string{
	orderform.FieldSymbol:    "The underlying stock; the ticket trades its options.",
	orderform.FieldRight:     "P or C; space, ←→ or the letter changes it.",
	orderform.FieldSide:      "SELL or BUY the option; the stop is on the opposite side.",
	orderform.FieldQuantity:  "Contracts, up to orders.max_quantity.",
	orderform.FieldOrderType: "LMT is priced at the mid when the limit is empty; MKT takes the market.",
	orderform.FieldLimit:     "Empty: the mid of a fresh quote, taken at the preview.",
	orderform.FieldStopLoss:  "A stop price such as 10.00, or a multiple of the entry such as 3x.",
	orderform.FieldTIF:       "DAY or GTC for the entry; the attached stop is GTC. Enter or ctrl+s previews.",
}

func styled(render func(...string) string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = render(l)
	}
	return out
}

// quoteLine describes the chosen contract and its quote.
func (m *Model) quoteLine() string {
	if m.contract == nil {
		return ""
	}
	st := m.common.Styles
	c := m.contract
	line := st.Label.Render("contract ") + fmt.Sprintf("%s (conid %d)", c.Description, c.Conid)
	if m.quote != nil {
		q := m.quote
		line += st.Label.Render("  bid ") + q.Bid.String() + st.Label.Render(" ask ") + q.Ask.String() +
			st.Label.Render(" last ") + q.Last.String() + st.Label.Render(" delta ") + q.Delta.String()
	}
	return line
}

// previewLines renders the plan and IB's what-if.
func (m *Model) previewLines(width int) []string {
	st := m.common.Styles
	p, w := m.plan, m.preview
	q := p.Quote
	row := func(label, value string) string {
		return common.Truncate(st.Label.Render(common.PadRight(label, labelWidth))+value, width)
	}
	lines := []string{
		row("Order", st.Value.Render(p.Order.String())),
		row("Contract", fmt.Sprintf("%s (conid %d)", p.Contract.Description, p.Contract.Conid)),
		row("Quote", fmt.Sprintf("bid %s  ask %s  last %s  delta %s", q.Bid, q.Ask, q.Last, q.Delta)),
	}
	if w != nil {
		lines = append(lines,
			row("What-if", fmt.Sprintf("commission %s, total %s", orderform.FormatMoney(w.Commission), orderform.FormatMoney(w.Total))),
			row("", "equity "+orderform.FormatChange(w.Equity)),
			row("", "initial margin "+orderform.FormatChange(w.Initial)),
			row("", "maintenance margin "+orderform.FormatChange(w.Maintenance)))
		if w.Warning != "" {
			lines = append(lines, row("Warning", st.Warn.Render(w.Warning)))
		}
		if w.Error != "" {
			lines = append(lines, row("Rejected", st.Bad.Render(w.Error)))
		}
	}
	if p.TickNote != "" {
		lines = append(lines, row("Tick", strings.TrimPrefix(p.TickNote, "tick ")))
	}
	lines = append(lines, row("cOID", p.COID), "")
	if holder := m.opts.Gate.Holder(); holder != "" && holder != p.COID {
		lines = append(lines, st.Warn.Render(common.Truncate("Submit is disabled: order "+holder+" from another ticket is still being placed.", width)))
	} else if m.step == stepPreview && (w == nil || w.Error == "") {
		lines = append(lines, st.Warn.Render("enter submits this order and its stop to IB; esc goes back to the form."))
	}
	return lines
}

// placingLines shows the order being placed, the answers so far and the
// open question.
func (m *Model) placingLines(width int) []string {
	st := m.common.Styles
	lines := []string{common.Truncate(st.Value.Render(m.plan.Order.String()), width), ""}
	for _, a := range m.answers {
		verdict := st.OK.Render("confirmed")
		if !a.confirmed {
			verdict = st.Bad.Render("declined")
		}
		lines = append(lines, common.Truncate(st.Label.Render("answered ")+strings.Join(a.ids, ", ")+" "+verdict, width))
	}
	if m.question == nil {
		return append(lines, st.Info.Render("Sent; waiting for IB…"))
	}
	q := m.question.question
	lines = append(lines, st.Warn.Render(common.Truncate(fmt.Sprintf("IB asks (%s, reply id %s):", strings.Join(q.MessageIDs, ", "), q.ID), width)))
	for _, text := range q.Messages {
		for _, l := range common.Wrap(text, width-2) {
			lines = append(lines, "  "+l)
		}
	}
	return append(lines, "",
		st.Warn.Render("y")+" confirm   "+st.Label.Render("n")+" decline (IB discards the order)",
		st.Muted.Render("Without an answer within "+common.Duration(m.opts.QuestionTimeout)+", the ticket declines it."))
}

// resultLines shows the outcome and the live status of each leg.
func (m *Model) resultLines(width int) []string {
	st := m.common.Styles
	lines := []string{common.Truncate(st.Value.Render(m.plan.Order.String()), width), ""}
	tone := st.Bad
	if m.placement != nil && (m.placement.Outcome == ibclient.OutcomePlaced || m.placement.Outcome == ibclient.OutcomeFound) {
		tone = st.OK
	}
	for _, l := range common.Wrap(m.outcomeLine(), width) {
		lines = append(lines, tone.Render(l))
	}
	if m.placeErr != nil {
		for _, l := range common.Wrap(m.placeErr.Error(), width) {
			lines = append(lines, st.Bad.Render(l))
		}
	}
	for _, leg := range m.legs {
		status := leg.Status
		if leg.Err != nil {
			status = "status unknown: " + leg.Err.Error()
		} else if leg.Total > 0 {
			status += fmt.Sprintf(" (%g of %g filled)", leg.Filled, leg.Total)
		}
		lines = append(lines, common.Truncate(fmt.Sprintf("  %-5s  %-22s  order %-10s  %s", leg.Leg, m.legDescription(leg.Leg), leg.OrderID, status), width))
	}
	return append(lines, "", st.Muted.Render("esc closes the ticket; the orders panel keeps the live status."))
}

func (m *Model) legDescription(leg string) string {
	o := m.plan.Order
	if leg == "stop" {
		return string(o.Side.Opposite()) + " STP " + orderform.FormatPrice(o.Stop)
	}
	if o.Type == ibclient.Limit {
		return string(o.Side) + " LMT " + orderform.FormatPrice(o.Limit)
	}
	return string(o.Side) + " MKT"
}

// outcomeLine describes in one sentence how the placement ended.
func (m *Model) outcomeLine() string {
	p := m.placement
	if p == nil {
		return "Not placed: the placement failed before IB answered."
	}
	coid := m.plan.COID
	switch p.Outcome {
	case ibclient.OutcomePlaced:
		return "Placed: order " + strings.Join(orderform.OrderIDs(p), " with stop ") + "."
	case ibclient.OutcomeFound:
		return "IB's answer was lost, so cOID " + coid + " was looked up instead of sent again: the order exists."
	case ibclient.OutcomeDeclined:
		return "Declined: IB discarded the order and nothing was placed."
	case ibclient.OutcomeNotFound:
		return "IB's answer was lost and cOID " + coid + " is not among the live orders: nothing was placed."
	case ibclient.OutcomeUnknown:
		return "IB's answer was lost and the lookup of cOID " + coid + " failed too: check the live orders before sending it again."
	}
	return "Rejected by IB."
}
