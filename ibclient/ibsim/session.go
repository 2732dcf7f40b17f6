package ibsim

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// requirement is an endpoint's precondition beyond a valid signature.
type requirement int

const (
	needAuth   requirement = iota // a valid LST signature only
	needBridge                    // a brokerage session whose bridge is up
	needPrimed                    // that, and GET /iserver/accounts called
)

// session is one consumer's brokerage session. IB allows one per
// username; each simulated consumer is its own user.
type session struct {
	initialized  bool      // ssodh/init ran and nothing dropped the session since
	bridgeUpAt   time.Time // /iserver responds from then on
	primed       bool      // /iserver/accounts was called since the bridge came up
	competing    bool      // another login took the session over
	lastActivity time.Time

	id     string // the tickle "session" value
	userID int

	subscribed map[int64][]string // conid -> fields of the pre-flight snapshot
	suppressed map[string]bool    // question ids confirmed without asking
	reply      *pendingReply      // the one unanswered question, if any
}

func (sess *session) bridgeUp(now time.Time) bool {
	return sess.initialized && !sess.competing && !now.Before(sess.bridgeUpAt)
}

// drop ends the brokerage session; the LST stays valid.
func (sess *session) drop() {
	sess.initialized = false
	sess.primed = false
	sess.subscribed = nil
	sess.suppressed = nil
	sess.reply = nil
}

func (s *Server) sessionFor(key string) *session {
	sess, ok := s.sessions[key]
	if !ok {
		id := make([]byte, 16)
		for i := range id {
			id[i] = byte(s.idRand.UintN(256))
		}
		sess = &session{id: hex.EncodeToString(id), userID: 10000000 + s.idRand.IntN(90000000)}
		s.sessions[key] = sess
	}
	return sess
}

// touchSession records activity, which keeps the brokerage session from
// timing out.
func (s *Server) touchSession(c *call) {
	c.session.lastActivity = c.now
}

// checkSession sends IB's session errors for endpoints that need the
// bridge or the /iserver/accounts priming, and returns false if it did.
func (s *Server) checkSession(c *call, needs requirement) bool {
	if needs == needAuth {
		return true
	}
	if !c.session.bridgeUp(c.now) {
		s.writeError(c, http.StatusBadRequest, "Bad Request: no bridge")
		return false
	}
	if needs == needPrimed && !c.session.primed {
		// NOTE: IB's exact body for this error is not published; the text
		// is IB's, the envelope the simulator's.
		s.writeError(c, http.StatusInternalServerError, "Please query /accounts first")
		return false
	}
	return true
}

// SessionView is a brokerage session's state, for tests.
type SessionView struct {
	Initialized bool // ssodh/init ran and the session was not dropped since
	BridgeUp    bool
	Primed      bool // /iserver/accounts was called
	Competing   bool
}

// Session returns the brokerage session state of a consumer.
func (s *Server) Session(consumerKey string) SessionView {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.syncLocked(now)
	sess, ok := s.sessions[consumerKey]
	if !ok {
		return SessionView{}
	}
	return SessionView{Initialized: sess.initialized, BridgeUp: sess.bridgeUp(now), Primed: sess.primed, Competing: sess.competing}
}

// SimulateCompetingLogin acts as if the consumer's user logged in
// elsewhere (TWS, the mobile app): the brokerage session is taken away
// and reports competing until ssodh/init is called with compete=true.
func (s *Server) SimulateCompetingLogin(consumerKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionFor(consumerKey)
	sess.drop()
	sess.competing = true
	s.log.Info("competing login simulated", "consumer", consumerKey)
}

// DropSession ends the consumer's brokerage session, as IB does when it
// times out or fails; the LST stays valid.
func (s *Server) DropSession(consumerKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessionFor(consumerKey).drop()
	s.log.Info("brokerage session dropped", "consumer", consumerKey)
}

// NightlyReset drops every brokerage session's bridge and accounts
// priming now, as IB's daily reset does. The server also does it by
// itself each day at 00:15 America/New_York except Saturday.
func (s *Server) NightlyReset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetSessionsLocked("nightly reset")
}

func (s *Server) resetSessionsLocked(reason string) {
	for key, sess := range s.sessions {
		if sess.initialized {
			sess.drop()
			s.log.Info("brokerage session dropped", "consumer", key, "reason", reason)
		}
	}
}

// initRequest is the body (or query) of ssodh/init.
type initRequest struct {
	Publish bool `json:"publish"`
	Compete bool `json:"compete"`
}

func (s *Server) handleInit(c *call) {
	var req initRequest
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 64<<10))
	if err != nil {
		s.writeError(c, http.StatusBadRequest, "Bad Request: cannot read body")
		return
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			s.writeError(c, http.StatusBadRequest, "Bad Request: body is not JSON like {\"publish\":true,\"compete\":true}")
			return
		}
	}
	q := c.r.URL.Query()
	if v := q.Get("publish"); v != "" {
		req.Publish, _ = strconv.ParseBool(v)
	}
	if v := q.Get("compete"); v != "" {
		req.Compete, _ = strconv.ParseBool(v)
	}

	sess := c.session
	if sess.competing && !req.Compete {
		status := s.statusBody(sess, c.now)
		status["message"] = "another session is open for this user; send compete=true to take it over"
		s.writeJSON(c, http.StatusOK, status)
		return
	}
	sess.competing = false
	if !sess.initialized {
		sess.drop()
		sess.initialized = true
		sess.bridgeUpAt = c.now.Add(s.opts.BridgeDelay)
		s.log.Info("brokerage session starting", "consumer", c.consumer.Key, "bridge_up_at", sess.bridgeUpAt.Format(time.RFC3339))
	}

	// The response reports the session as authenticated at once, while
	// the bridge comes up only after BridgeDelay. That gap is IB's "no
	// bridge right after init".
	status := s.statusBody(sess, c.now)
	status["authenticated"] = true
	status["connected"] = true
	s.writeJSON(c, http.StatusOK, status)
}

// statusBody is the brokerage status object of auth/status and init.
func (s *Server) statusBody(sess *session, now time.Time) map[string]any {
	return map[string]any{
		"authenticated": sess.bridgeUp(now),
		"competing":     sess.competing,
		"connected":     sess.initialized,
		"message":       "",
		"MAC":           simMAC,
		"serverInfo":    map[string]string{"serverName": "ibsim", "serverVersion": "ibsim simulated Web API"},
		"fail":          "",
		"hardware_info": "1b5e0000|" + simMAC,
	}
}

// simMAC is a locally administered address, so it names no real device.
const simMAC = "02:1B:5E:00:00:01"

func (s *Server) handleAuthStatus(c *call) {
	s.writeJSON(c, http.StatusOK, s.statusBody(c.session, c.now))
}

func (s *Server) handleTickle(c *call) {
	sess := c.session
	authStatus := s.statusBody(sess, c.now)
	authStatus["established"] = sess.initialized
	s.writeJSON(c, http.StatusOK, map[string]any{
		"session":    sess.id,
		"ssoExpires": s.opts.IdleTimeout.Milliseconds(),
		"collission": sess.competing, // IB's spelling on the wire
		"userId":     sess.userID,
		"hmds":       map[string]string{"error": "no bridge"},
		"iserver":    map[string]any{"authStatus": authStatus},
	})
}

func (s *Server) handleLogout(c *call) {
	c.session.drop()
	s.writeJSON(c, http.StatusOK, map[string]bool{"status": true})
}

func (s *Server) handleAccounts(c *call) {
	c.session.primed = true
	acct := s.opts.AccountID
	s.writeJSON(c, http.StatusOK, map[string]any{
		"accounts": []string{acct},
		"acctProps": map[string]any{acct: map[string]bool{
			"hasChildAccounts": false, "supportsCashQty": true, "supportsFractions": false,
		}},
		"aliases":         map[string]string{acct: acct},
		"allowFeatures":   map[string]bool{"allowFXConv": true, "allowTypeAhead": true},
		"chartPeriods":    map[string][]string{"OPT": {"1d", "2d", "1w"}, "STK": {"1d", "1w", "1m"}},
		"groups":          []string{},
		"profiles":        []string{},
		"selectedAccount": acct,
		"serverInfo":      map[string]string{"serverName": "ibsim", "serverVersion": "ibsim simulated Web API"},
		"sessionId":       c.session.id,
		"isFT":            false,
		"isPaper":         len(acct) > 0 && acct[0] == 'D',
	})
}
