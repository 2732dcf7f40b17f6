// Package ibclient is a client for the Interactive Brokers Web API reached
// directly with first-party OAuth 1.0a: the live session token (LST)
// handshake, HMAC-SHA256 request signing, the brokerage session, contracts,
// market data, orders and the decoding of IB's error envelope.
//
// # Where IB departs from RFC 5849
//
// The package uses github.com/dghubble/oauth1 for the parts of OAuth 1.0a
// that IB follows: its Signer interface (both IB signers implement it), its
// RFC 3986 percent-encoding and its nonce source. The rest is written here
// because IB's first-party flow is not the RFC's three-legged flow:
//
//   - There is no request_token, authorize or access_token step. The portal
//     hands out the access token and an access token secret that is RSA
//     ciphertext; the client decrypts it with its private encryption key.
//   - The LST request (POST oauth/live_session_token) is signed with
//     RSA-SHA256 over the lower-case hex of the decrypted secret glued in
//     front of the base string, and it carries a Diffie-Hellman challenge
//     as an extra OAuth parameter.
//   - The LST is derived from the DH shared secret K, encoded the way
//     Java's BigInteger.toByteArray encodes it, with HMAC-SHA1.
//   - Later requests are signed with HMAC-SHA256 keyed by the raw LST bytes,
//     not by "consumer secret & token secret".
//   - The parameter string is joined from raw values and percent-encoded
//     once, so a comma in a signed query value becomes %2C, where RFC 5849
//     would encode each value first and give %252C.
//   - The realm is required (limited_poa, or test_realm for TESTCONS), and
//     no oauth_version is sent.
//
// The known-answer tests in this package pin every one of these rules
// against vectors computed by an independent implementation.
package ibclient
