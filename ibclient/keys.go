package ibclient

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
)

// ffdhe2048PEM is the 2048-bit group of RFC 7919 (appendix A.1) with
// generator 2, as `openssl genpkey -genparam -algorithm DH -pkeyopt
// group:ffdhe2048` writes it. The simulator and the demo use it so they
// need no slow search for a safe prime; a real consumer should upload
// parameters of its own from `ibdash keygen` or `openssl dhparam`.
const ffdhe2048PEM = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`

// FFDHE2048 returns the RFC 7919 ffdhe2048 group.
func FFDHE2048() *DHParams {
	params, err := ParseDHParams([]byte(ffdhe2048PEM))
	if err != nil {
		panic("ibclient: embedded ffdhe2048 group does not parse: " + err.Error())
	}
	return params
}

// GenerateRSAKey makes an RSA private key of the given size from crypto/rand.
func GenerateRSAKey(bits int) (*rsa.PrivateKey, error) {
	if bits < MinKeyBits {
		return nil, fmt.Errorf("ibclient: RSA key size %d is under IB's minimum of %d", bits, MinKeyBits)
	}
	return rsa.GenerateKey(rand.Reader, bits)
}

// EncodePrivateKeyPEM writes key as a PKCS#8 "PRIVATE KEY" block, the form
// OpenSSL 3 writes.
func EncodePrivateKeyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("ibclient: encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM writes the public half of key as a PKIX "PUBLIC KEY"
// block, the form IB's Self-Service Portal takes.
func EncodePublicKeyPEM(key *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("ibclient: encoding public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// EncodeDHParamsPEM writes params as a PKCS#3 "DH PARAMETERS" block.
func EncodeDHParamsPEM(params *DHParams) ([]byte, error) {
	der, err := asn1.Marshal(struct{ P, G *big.Int }{params.P, params.G})
	if err != nil {
		return nil, fmt.Errorf("ibclient: encoding DH parameters: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "DH PARAMETERS", Bytes: der}), nil
}

// EncryptAccessTokenSecret encrypts secret with the consumer's public
// encryption key (RSAES-PKCS1-v1_5) and returns base64, as IB's portal
// shows an access token secret. The simulator and tests use it.
func EncryptAccessTokenSecret(secret []byte, key *rsa.PublicKey) (string, error) {
	ciphertext, err := rsa.EncryptPKCS1v15(rand.Reader, key, secret)
	if err != nil {
		return "", fmt.Errorf("ibclient: encrypting access token secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ciphertext), nil
}

// smallPrimes are the odd primes below 2000, for sieving candidates.
var smallPrimes = func() []uint64 {
	var ps []uint64
	for n := uint64(3); n < 2000; n += 2 {
		isPrime := true
		for _, p := range ps {
			if p*p > n {
				break
			}
			if n%p == 0 {
				isPrime = false
				break
			}
		}
		if isPrime {
			ps = append(ps, n)
		}
	}
	return ps
}()

// GenerateDHParams searches for a safe prime p = 2q+1 of the given size
// with p ≡ 23 (mod 24), so that 2 generates the subgroup of prime order q,
// as `openssl dhparam` does for generator 2. progress, if not nil, is
// called after each candidate that passed the sieve, with the count so
// far. For 2048 bits the search takes minutes.
func GenerateDHParams(random io.Reader, bits int, progress func(candidates int)) (*DHParams, error) {
	if bits < 64 {
		return nil, fmt.Errorf("ibclient: DH prime size %d is too small", bits)
	}
	one := big.NewInt(1)
	twelve := big.NewInt(12)
	q := new(big.Int)
	p := new(big.Int)
	mod := new(big.Int)
	buf := make([]byte, (bits-1+7)/8)
	candidates := 0

	for {
		// A random (bits-1)-bit q with its top bit set and q ≡ 11 (mod 12),
		// so p = 2q+1 has exactly bits bits and p ≡ 23 (mod 24).
		if _, err := io.ReadFull(random, buf); err != nil {
			return nil, fmt.Errorf("ibclient: reading randomness: %w", err)
		}
		excess := uint(len(buf)*8 - (bits - 1))
		buf[0] &= byte(0xff >> excess)
		q.SetBytes(buf)
		q.SetBit(q, bits-2, 1)
		mod.Mod(q, twelve)
		q.Sub(q, mod)
		q.Add(q, big.NewInt(11))

		// Residues of q modulo each small prime, stepped along with q so
		// the sieve costs no big-number division per candidate.
		residues := make([]uint64, len(smallPrimes))
		for i, sp := range smallPrimes {
			residues[i] = mod.Mod(q, new(big.Int).SetUint64(sp)).Uint64()
		}
		for step := uint64(0); step < 1<<16; step++ {
			if sievePasses(residues) {
				c := new(big.Int).Add(q, new(big.Int).SetUint64(12*step))
				if c.BitLen() != bits-1 {
					break
				}
				candidates++
				if progress != nil {
					progress(candidates)
				}
				p.Lsh(c, 1).Add(p, one)
				if c.ProbablyPrime(1) && p.ProbablyPrime(1) && c.ProbablyPrime(20) && p.ProbablyPrime(20) {
					return &DHParams{P: new(big.Int).Set(p), G: big.NewInt(2)}, nil
				}
			}
			for i, sp := range smallPrimes {
				residues[i] = (residues[i] + 12) % sp
			}
		}
	}
}

// sievePasses reports whether neither q nor 2q+1 has a small prime factor,
// given q's residues modulo smallPrimes.
func sievePasses(residues []uint64) bool {
	for i, sp := range smallPrimes {
		if residues[i] == 0 || (2*residues[i]+1)%sp == 0 {
			return false
		}
	}
	return true
}
