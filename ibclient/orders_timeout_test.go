package ibclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPlaceOrdersHangingPOSTTimesOut places an order on a server that
// never responds to the POST, through a client without a request timeout
// and a context without a deadline, as the dashboard's ticket does.
func TestPlaceOrdersHangingPOSTTimesOut(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
			// The server notices the client going away only once the
			// body has been read.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"orders": []map[string]any{{"orderId": "9", "order_ref": "other"}}})
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL + "/v1/api")
	if err != nil {
		t.Fatal(err)
	}
	c.orderTimeout = 200 * time.Millisecond
	orders := []Order{{Conid: 1, OrderType: Market, Side: Buy, TIF: "DAY", Quantity: 1}}

	done := make(chan *Placement, 1)
	go func() {
		p, _ := c.PlaceOrders(context.Background(), "DU1", "ibdash-hang", orders, nil, nil)
		done <- p
	}()
	select {
	case p := <-done:
		if p.Outcome != OutcomeNotFound {
			t.Errorf("outcome = %s (err %v), want not found after the lookup", p.Outcome, p.Err)
		}
		if !IsTimeout(p.Err) {
			t.Errorf("error = %v, want a timeout", p.Err)
		}
		if !strings.Contains(p.Err.Error(), "orders") {
			t.Errorf("error %q does not name the endpoint", p.Err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("PlaceOrders still waits for IB after 15 s with a 200 ms order timeout")
	}
	if got := posts.Load(); got != 1 {
		t.Errorf("order POSTs = %d, want 1", got)
	}
}
