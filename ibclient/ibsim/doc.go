// Package ibsim simulates the Interactive Brokers Web API as a client
// reaches it with first-party OAuth 1.0a, so that ibdash and its tests can
// rehearse against something that behaves like IB.
//
// The simulator checks what IB checks: the RSA-SHA256 signature of the live
// session token (LST) request over the prepend and the base string, the
// realm, the timestamp and the nonce. It runs the Diffie-Hellman exchange
// and then verifies the HMAC-SHA256 signature of every later request in
// both signing forms IB accepts. Behind that sit the brokerage session
// (ssodh/init, the bridge delay, /iserver/accounts priming, tickle, idle
// timeout, competing sessions, the nightly reset), an SPY option chain
// priced with Black-Scholes around a moving underlying, market data
// snapshots with IB's pre-flight rule, orders with confirmation questions,
// brackets and a fill lifecycle, IB's rate limits, and faults that tests or
// flags switch on at run time.
//
// All time comes from a Clock, so tests step it with a ManualClock instead
// of sleeping. Server is an http.Handler; Start serves it on a loopback
// port, and StartDemo adds the three demo consumers with cached key files.
//
// Where IB's behaviour is not documented (the bodies of several errors, the
// size of the timestamp window, the discard answer of the reply endpoint),
// the simulator picks a plausible answer and says so where it does.
package ibsim
