package ibclient

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func readVectorFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadRSAPrivateKeyForms(t *testing.T) {
	pkcs8, err := LoadRSAPrivateKey(filepath.Join(vectorDir, "private_signature.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pkcs1, err := LoadRSAPrivateKey(filepath.Join(vectorDir, "private_signature.pkcs1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !pkcs8.Equal(pkcs1) {
		t.Error("PKCS#1 and PKCS#8 files give different keys")
	}

	for _, name := range []string{"private_signature.pem", "private_encryption.pkcs1.pem"} {
		crlf := bytes.ReplaceAll(readVectorFile(t, name), []byte("\n"), []byte("\r\n"))
		key, err := LoadRSAPrivateKey(writeFile(t, name, crlf, 0o600))
		if err != nil {
			t.Fatalf("%s with CRLF: %v", name, err)
		}
		if key.N.BitLen() != 2048 {
			t.Errorf("%s with CRLF: %d bits", name, key.N.BitLen())
		}
	}
}

func TestLoadRSAPrivateKeyRejects(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	smallKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER := x509.MarshalPKCS1PrivateKey(smallKey)
	// OpenSSL 1.x `genrsa -aes256` writes PKCS#1 with Proc-Type and
	// DEK-Info headers; Go still has the encoder for tests.
	legacyKey, _ := ParseRSAPrivateKey(readVectorFile(t, "private_signature.pem"))
	legacyBlock, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(legacyKey), []byte("passphrase"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"not pem", []byte("hello"), "no PEM block"},
		{"truncated", readVectorFile(t, "private_signature.pem")[:400], "no PEM block"},
		{"corrupt body", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "invalid PKCS#8"},
		{"public key", readVectorFile(t, "public_signature.pem"), "public key, not a private key"},
		{"dh params", readVectorFile(t, "dhparam.pem"), `"DH PARAMETERS" is not an RSA private key`},
		{"ec key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), "not RSA"},
		{"1024 bits", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: smallDER}), "1024 bits, IB requires at least 2048"},
		{"encrypted", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), "encrypted with a passphrase"},
		{"legacy encrypted", pem.EncodeToMemory(legacyBlock), "encrypted with a passphrase"},
		{"ed25519 key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}), "not RSA"},
		{"openssh key", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), "ssh-keygen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "key.pem", tc.data, 0o600)
			_, err := LoadRSAPrivateKey(path)
			if err == nil {
				t.Fatal("key was accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			var credErr *CredentialError
			if !errors.As(err, &credErr) || credErr.Fix == "" {
				t.Errorf("error %q carries no fix", err)
			}
		})
	}
}

func TestLoadKeyFilesWithBOM(t *testing.T) {
	bom := []byte("\xef\xbb\xbf")
	keyPath := writeFile(t, "key.pem", append(bom, readVectorFile(t, "private_signature.pem")...), 0o600)
	if _, err := LoadRSAPrivateKey(keyPath); err != nil {
		t.Errorf("private key with a UTF-8 BOM: %v", err)
	}
	dhPath := writeFile(t, "dhparam.pem", append(bom, readVectorFile(t, "dhparam.pem")...), 0o600)
	if _, err := LoadDHParams(dhPath); err != nil {
		t.Errorf("dhparam.pem with a UTF-8 BOM: %v", err)
	}
}

func TestLoadKeyFileDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadRSAPrivateKey(dir)
	var credErr *CredentialError
	if !errors.As(err, &credErr) {
		t.Fatalf("LoadRSAPrivateKey(directory) = %v, want a CredentialError", err)
	}
	if !strings.Contains(err.Error(), dir) || credErr.Fix == "" {
		t.Errorf("error %q does not name the directory and a fix", err)
	}
	if _, err := LoadDHParams(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("LoadDHParams(directory) = %v, want an error naming it", err)
	}
}

func TestLoadRSAPrivateKeyMissingFile(t *testing.T) {
	_, err := LoadRSAPrivateKey(filepath.Join(t.TempDir(), "absent.pem"))
	if err == nil || !strings.Contains(err.Error(), "absent.pem") {
		t.Fatalf("error = %v, want one naming absent.pem", err)
	}
}

func TestLoadRSAPrivateKeyFromOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed; .ci/run installs it")
	}
	dir := t.TempDir()
	pkcs8 := filepath.Join(dir, "fresh.pem")
	pkcs1 := filepath.Join(dir, "fresh.pkcs1.pem")
	if out, err := exec.Command("openssl", "genrsa", "-out", pkcs8, "2048").CombinedOutput(); err != nil {
		t.Fatalf("openssl genrsa: %v: %s", err, out)
	}
	if out, err := exec.Command("openssl", "rsa", "-in", pkcs8, "-traditional", "-out", pkcs1).CombinedOutput(); err != nil {
		t.Fatalf("openssl rsa: %v: %s", err, out)
	}
	a, err := LoadRSAPrivateKey(pkcs8)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadRSAPrivateKey(pkcs1)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Error("openssl's PKCS#8 and PKCS#1 files give different keys")
	}
}

func TestParseDHParams(t *testing.T) {
	params, err := LoadDHParams(filepath.Join(vectorDir, "dhparam.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if params.P.BitLen() != 2048 || params.G.Int64() != 2 {
		t.Errorf("p has %d bits and g = %v, want 2048 and 2", params.P.BitLen(), params.G)
	}
	crlf := bytes.ReplaceAll(readVectorFile(t, "dhparam.pem"), []byte("\n"), []byte("\r\n"))
	if _, err := ParseDHParams(crlf); err != nil {
		t.Errorf("CRLF dhparam.pem: %v", err)
	}
}

func TestParseDHParamsRejects(t *testing.T) {
	small, err := GenerateDHParams(rand.Reader, 512, nil)
	if err != nil {
		t.Fatal(err)
	}
	smallPEM, _ := EncodeDHParamsPEM(small)
	big := FFDHE2048()
	badG := &DHParams{P: big.P, G: bigOne()}
	badGPEM, _ := EncodeDHParamsPEM(badG)
	gPMinus1 := &DHParams{P: big.P, G: bigSub(big.P, 1)}
	gPMinus1PEM, _ := EncodeDHParamsPEM(gPMinus1)
	// The RFC 7919 prime is 2 mod 3, so p+4 is odd and divisible by 3.
	compositePEM, _ := EncodeDHParamsPEM(&DHParams{P: bigSub(big.P, -4), G: big.G})
	evenPEM, _ := EncodeDHParamsPEM(&DHParams{P: bigSub(big.P, 1), G: big.G})

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not pem", []byte("garbage"), "no PEM block"},
		{"wrong type", readVectorFile(t, "public_signature.pem"), "is not DH PARAMETERS"},
		{"corrupt", []byte("-----BEGIN DH PARAMETERS-----\nMAMCAQ==\n-----END DH PARAMETERS-----\n"), "invalid PKCS#3"},
		{"512-bit prime", smallPEM, "512 bits, IB requires at least 2048"},
		{"g is 1", badGPEM, "outside (1, p-1)"},
		{"g is p-1", gPMinus1PEM, "outside (1, p-1)"},
		{"composite p", compositePEM, "not prime"},
		{"even p", evenPEM, "not prime"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "dhparam.pem", tc.data, 0o600)
			_, err := LoadDHParams(path)
			if err == nil {
				t.Fatal("parameters were accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not say %q and name the file", err, tc.want)
			}
		})
	}
}

func TestDecryptAccessTokenSecret(t *testing.T) {
	key, err := LoadRSAPrivateKey(filepath.Join(vectorDir, "private_encryption.pem"))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(readVectorFile(t, "access_token_secret_encrypted.b64")))

	wrapped := secret[:100] + "\n  " + secret[100:200] + "\r\n\t" + secret[200:] + " "
	plain, err := DecryptAccessTokenSecret(wrapped, key, "private_encryption.pem")
	if err != nil {
		t.Fatalf("secret with spaces and line breaks: %v", err)
	}
	if len(plain) != 32 {
		t.Errorf("decrypted %d bytes, want 32", len(plain))
	}

	corrupt := secret[:50] + "!" + secret[51:]
	_, err = DecryptAccessTokenSecret(corrupt, key, "private_encryption.pem")
	if err == nil || !strings.Contains(err.Error(), "paste it again") {
		t.Errorf("corrupt base64: error %v, want one saying to paste it again", err)
	}
	if err != nil && strings.Contains(err.Error(), secret[:20]) {
		t.Error("error contains the secret")
	}

	_, err = DecryptAccessTokenSecret(secret[:len(secret)-8], key, "private_encryption.pem")
	if err == nil {
		t.Error("a shortened secret was accepted")
	}

	otherKey, _ := LoadRSAPrivateKey(filepath.Join(vectorDir, "private_signature.pem"))
	_, err = DecryptAccessTokenSecret(secret, otherKey, "private_signature.pem")
	if err == nil || !strings.Contains(err.Error(), "private_signature.pem") || !strings.Contains(err.Error(), "cannot decrypt") {
		t.Errorf("wrong key: error %v, want one naming private_signature.pem", err)
	}
}

func TestDecodeAccessTokenSecretForms(t *testing.T) {
	key, err := LoadRSAPrivateKey(filepath.Join(vectorDir, "private_encryption.pem"))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(readVectorFile(t, "access_token_secret_encrypted.b64")))
	want, err := DecryptAccessTokenSecret(secret, key, "private_encryption.pem")
	if err != nil {
		t.Fatal(err)
	}

	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(secret)
	cases := map[string]string{
		"UTF-8 BOM":       "\ufeff" + secret,
		"zero-width":      secret[:40] + "\u200b" + secret[40:],
		"no padding":      strings.TrimRight(secret, "="),
		"URL-safe":        urlSafe,
		"URL-safe, bare":  strings.TrimRight(urlSafe, "="),
		"non-breaking sp": secret[:40] + "\u00a0" + secret[40:],
	}
	for name, text := range cases {
		got, err := DecryptAccessTokenSecret(text, key, "private_encryption.pem")
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: decrypted a different secret", name)
		}
	}

	_, err = DecodeAccessTokenSecret(secret[:20] + "=" + secret[20:])
	if err == nil {
		t.Error("a secret with = in the middle was accepted")
	}
}

func TestConsumerKeyWarning(t *testing.T) {
	if w := ConsumerKeyWarning("BEARHEDGE"); w != "" {
		t.Errorf("upper-case key warned: %s", w)
	}
	w := ConsumerKeyWarning("bearHedge")
	if !strings.Contains(w, "BEARHEDGE") || !strings.Contains(w, "invalid consumer") {
		t.Errorf("lower-case warning %q lacks the fix", w)
	}
}

func TestPermissionWarning(t *testing.T) {
	loose := writeFile(t, "loose.pem", []byte("x"), 0o644)
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	if w := PermissionWarning(loose); !strings.Contains(w, "chmod 600") {
		t.Errorf("0644 file: warning %q", w)
	}
	tight := writeFile(t, "tight.pem", []byte("x"), 0o600)
	if w := PermissionWarning(tight); w != "" {
		t.Errorf("0600 file warned: %s", w)
	}
}
