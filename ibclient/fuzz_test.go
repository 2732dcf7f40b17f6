package ibclient

import (
	"encoding/json"
	"encoding/pem"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// finite reports whether n is missing or a finite number.
func finite(n Number) bool {
	return !n.Valid || (!math.IsNaN(n.Value) && !math.IsInf(n.Value, 0))
}

func FuzzParseMarketValue(f *testing.F) {
	for _, s := range []string{"3.10", "1,300", "14.8%", "1.2K", "C3.10", "N/A", "NaN", "1e308B", "-0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := ParseMarketValue(s); !finite(n) {
			t.Fatalf("ParseMarketValue(%q) = %v, not finite", s, n.Value)
		}
		var flex FlexFloat
		data, _ := json.Marshal(s)
		if json.Unmarshal(data, &flex) == nil && (math.IsNaN(float64(flex)) || math.IsInf(float64(flex), 0)) {
			t.Fatalf("FlexFloat(%q) = %v, not finite", s, flex)
		}
	})
}

func FuzzParseSnapshot(f *testing.F) {
	f.Add([]byte(`[{"conid":756733,"31":"C640.10","84":"640.05","86":"640.15","7308":"0.512","7633":"14.8%","6509":"RpB","_updated":1754486430000}]`))
	f.Add([]byte(`[{"conid":"800150600","_updated":"x"}]`))
	f.Add([]byte(`[{"conid":1,"31":{"a":1},"84":null}]`))
	f.Add([]byte(`[null]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var rows []map[string]json.RawMessage
		if json.Unmarshal(body, &rows) != nil {
			return
		}
		quotes, err := parseQuotes(rows)
		if err != nil {
			if !IsKind(err, KindMalformed) {
				t.Fatalf("error %v is not KindMalformed", err)
			}
			return
		}
		if len(quotes) != len(rows) {
			t.Fatalf("%d quotes from %d rows", len(quotes), len(rows))
		}
		for _, q := range quotes {
			for _, n := range []Number{q.Bid, q.Ask, q.Last, q.BidSize, q.AskSize, q.LastSize, q.Delta, q.ImpliedVol} {
				if !finite(n) {
					t.Fatalf("quote %v has a value that is not finite", q)
				}
			}
		}
	})
}

func FuzzParseOrderReply(f *testing.F) {
	for _, s := range []string{
		`[{"order_id":"1837465502","order_status":"PreSubmitted"},{"order_id":1837465503,"order_status":"PreSubmitted"}]`,
		`[{"id":"07a13a5a-4a48-44a5-bb25-5ab37b79186c","message":["Are you sure?"],"isSuppressed":false,"messageIds":["o163"]}]`,
		`{"order_id":"1","order_status":"Submitted"}`,
		`{"order_id":0,"text":"Order rejected","messageId":"x","prompt":true}`,
		`[{"id":"","message":["x"]}]`,
		`null`, `[]`, `{}`, `[[]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		reply, err := parseOrderReply("POST iserver/account/DU1/orders", raw)
		if err != nil {
			return
		}
		if (reply.Question == nil) == (len(reply.Acks) == 0) {
			t.Fatalf("reply %+v is neither one question nor a list of acks", reply)
		}
		if reply.Question != nil && reply.Question.ID == "" {
			t.Fatal("question without an id")
		}
		for _, ack := range reply.Acks {
			if ack.OrderID == "" {
				t.Fatal("ack without an order id")
			}
		}
	})
}

// FuzzOrderRows decodes the order rows IB sends as strings or numbers
// in either form, which must never panic.
func FuzzOrderRows(f *testing.F) {
	f.Add([]byte(`{"orders":[{"acct":"DU1","conid":"800150600","orderId":1837465502,"order_ref":"ibdash-x","price":"3.15","totalSize":2,"filledQuantity":"0.0"}]}`))
	f.Add([]byte(`{"order_id":"1","conid":800150600,"size":"1,300","total_size":null,"cum_fill":"","average_price":"NaN"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var live struct {
			Orders []LiveOrder `json:"orders"`
		}
		if json.Unmarshal(body, &live) == nil {
			for _, o := range live.Orders {
				for _, v := range []FlexFloat{o.Price, o.TotalSize, o.FilledQuantity, o.RemainingQuantity} {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("live order %+v has a value that is not finite", o)
					}
				}
			}
		}
		var status OrderStatus
		if json.Unmarshal(body, &status) == nil {
			for _, v := range []FlexFloat{status.Size, status.TotalSize, status.CumFill, status.AveragePrice} {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("order status %+v has a value that is not finite", status)
				}
			}
		}
	})
}

// FuzzParseKeyFiles feeds arbitrary DER under each PEM type the loaders
// meet. A key or group that is accepted must meet IB's rules.
func FuzzParseKeyFiles(f *testing.F) {
	for _, name := range []string{"private_signature.pem", "public_signature.pem", "dhparam.pem"} {
		data, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			f.Fatal(err)
		}
		block, _ := pem.Decode(data)
		f.Add(uint8(0), block.Bytes)
	}
	types := []string{"RSA PRIVATE KEY", "PRIVATE KEY", "PUBLIC KEY", "RSA PUBLIC KEY", "DH PARAMETERS"}
	f.Fuzz(func(t *testing.T, kind uint8, der []byte) {
		data := pem.EncodeToMemory(&pem.Block{Type: types[int(kind)%len(types)], Bytes: der})
		if key, err := ParseRSAPrivateKey(data); err == nil && key.N.BitLen() < MinKeyBits {
			t.Fatalf("accepted a %d-bit private key", key.N.BitLen())
		}
		_, _ = ParseRSAPublicKey(data)
		params, err := ParseDHParams(data)
		if err != nil {
			return
		}
		pMinus1 := new(big.Int).Sub(params.P, big.NewInt(1))
		if params.P.BitLen() < MinKeyBits || params.G.Cmp(big.NewInt(1)) <= 0 || params.G.Cmp(pMinus1) >= 0 {
			t.Fatalf("accepted DH parameters outside IB's rules: %d-bit p", params.P.BitLen())
		}
	})
}
