package ibclient

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestFFDHE2048Group(t *testing.T) {
	params := FFDHE2048()
	if params.P.BitLen() != 2048 {
		t.Errorf("prime has %d bits, want 2048", params.P.BitLen())
	}
	if params.G.Int64() != 2 {
		t.Errorf("generator = %v, want 2", params.G)
	}
	q := new(big.Int).Rsh(params.P, 1)
	if !params.P.ProbablyPrime(10) || !q.ProbablyPrime(10) {
		t.Error("ffdhe2048 is not a safe prime")
	}
}

func TestGenerateDHParamsSafePrime(t *testing.T) {
	calls := 0
	params, err := GenerateDHParams(rand.Reader, 256, func(int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if params.P.BitLen() != 256 {
		t.Errorf("prime has %d bits, want 256", params.P.BitLen())
	}
	q := new(big.Int).Rsh(params.P, 1)
	if !params.P.ProbablyPrime(20) || !q.ProbablyPrime(20) {
		t.Error("p or (p-1)/2 is not prime")
	}
	if m := new(big.Int).Mod(params.P, big.NewInt(24)).Int64(); m != 23 {
		t.Errorf("p mod 24 = %d, want 23 so that 2 generates the order-q subgroup", m)
	}
	if calls == 0 {
		t.Error("progress was never called")
	}
}

// TestDHParamsPEMReadByOpenSSL checks that the PEM written here is what
// openssl itself reads as DH parameters.
func TestDHParamsPEMReadByOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed; .ci/run installs it")
	}
	data, err := EncodeDHParamsPEM(FFDHE2048())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dhparam.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkeyparam", "-in", path, "-check", "-noout").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl rejected the DH parameters: %v: %s", err, out)
	}
	again, err := ParseDHParams(data)
	if err != nil {
		t.Fatal(err)
	}
	if again.P.Cmp(FFDHE2048().P) != 0 {
		t.Error("round trip changed the prime")
	}
}

func TestKeyPEMRoundTrip(t *testing.T) {
	key, err := GenerateRSAKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("private key PEM starts %q, want PKCS#8", privPEM[:27])
	}
	parsed, err := ParseRSAPrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Equal(key) {
		t.Error("private key changed in the round trip")
	}

	pubPEM, err := EncodePublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseRSAPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Error("public key changed in the round trip")
	}

	secret := []byte("0123456789abcdef0123456789abcdef")
	enc, err := EncryptAccessTokenSecret(secret, &key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := DecryptAccessTokenSecret(enc, key, "test key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, secret) {
		t.Error("secret changed in the encryption round trip")
	}
}

func TestGenerateRSAKeyRejectsSmall(t *testing.T) {
	if _, err := GenerateRSAKey(1024); err == nil {
		t.Error("1024-bit key was accepted")
	}
}
