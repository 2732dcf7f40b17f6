package ibclient

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"unicode"
)

// MinKeyBits is the smallest RSA modulus and DH prime size IB accepts for
// self-service OAuth keys.
const MinKeyBits = 2048

// CredentialError reports a credential that cannot be used: which file or
// field, what is wrong, and what to do about it. It never carries key
// material.
type CredentialError struct {
	Item string // a file path or a config field name
	Err  error
	Fix  string
}

func (e *CredentialError) Error() string {
	msg := fmt.Sprintf("ibclient: %s: %v", e.Item, e.Err)
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

func (e *CredentialError) Unwrap() error { return e.Err }

// LoadRSAPrivateKey reads a PEM file holding an RSA private key in PKCS#1
// ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") form. CRLF line endings are
// accepted. A key of another type or under MinKeyBits is rejected.
func LoadRSAPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &CredentialError{Item: path, Err: err, Fix: "check the key path in the config file (relative paths are relative to the config file)"}
	}
	key, err := ParseRSAPrivateKey(data)
	if err != nil {
		return nil, &CredentialError{Item: path, Err: err, Fix: "use the private_*.pem file made by `openssl genrsa 2048` or `ibdash keygen`"}
	}
	return key, nil
}

var errEncryptedKey = errors.New("private key is encrypted with a passphrase; write an unencrypted copy with `openssl pkey -in KEY -out KEY.plain`")

// ParseRSAPrivateKey parses PEM data as LoadRSAPrivateKey does.
func ParseRSAPrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, err := decodePEM(data, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}

	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		// OpenSSL 1.x `genrsa -aes256` encrypts the PKCS#1 body and marks
		// that only in these headers.
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errEncryptedKey
		}
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid PKCS#1 RSA private key: %w", err)
		}
	case "PRIVATE KEY":
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid PKCS#8 private key: %w", err)
		}
		rsaKey, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, not RSA", parsed)
		}
		key = rsaKey
	case "ENCRYPTED PRIVATE KEY":
		return nil, errEncryptedKey
	case "OPENSSH PRIVATE KEY":
		return nil, errors.New("this is an OpenSSH key from ssh-keygen, not a PEM RSA private key; make the key pair with `ibdash keygen` or `openssl genrsa 2048`")
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("PEM block is a %s, not a private key", strings.ToLower(block.Type))
	default:
		return nil, fmt.Errorf("PEM block type %q is not an RSA private key", block.Type)
	}

	if bits := key.N.BitLen(); bits < MinKeyBits {
		return nil, fmt.Errorf("RSA key has %d bits, IB requires at least %d", bits, MinKeyBits)
	}
	return key, nil
}

// ParseRSAPublicKey parses a PEM "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY"
// (PKCS#1) block, as uploaded to IB's Self-Service Portal.
func ParseRSAPublicKey(data []byte) (*rsa.PublicKey, error) {
	block, err := decodePEM(data, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "PUBLIC KEY":
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid public key: %w", err)
		}
		key, ok := parsed.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, not RSA", parsed)
		}
		return key, nil
	case "RSA PUBLIC KEY":
		key, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("invalid PKCS#1 public key: %w", err)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("PEM block type %q is not an RSA public key", block.Type)
	}
}

// decodePEM finds the first PEM block after dropping a UTF-8 byte order
// mark and normalising CRLF and lone CR line endings, which Windows
// editors and some portals write. pem.Decode alone finds no block behind
// a byte order mark. blockType is the type the error names as expected.
func decodePEM(data []byte, blockType string) (*pem.Block, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found (expected a line such as -----BEGIN %s-----)", blockType)
	}
	return block, nil
}

// DHParams are the Diffie-Hellman group from dhparam.pem.
type DHParams struct {
	P *big.Int
	G *big.Int
}

// LoadDHParams reads a PKCS#3 "DH PARAMETERS" PEM file as written by
// `openssl dhparam`. The generator is read from the file, never assumed.
func LoadDHParams(path string) (*DHParams, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &CredentialError{Item: path, Err: err, Fix: "check dh_params in the config file"}
	}
	params, err := ParseDHParams(data)
	if err != nil {
		return nil, &CredentialError{Item: path, Err: err, Fix: "use the dhparam.pem made by `openssl dhparam -out dhparam.pem 2048` and uploaded to the portal"}
	}
	return params, nil
}

// ParseDHParams parses PEM data as LoadDHParams does and checks that the
// prime has at least MinKeyBits and is prime, and that 1 < g < p-1.
func ParseDHParams(data []byte) (*DHParams, error) {
	block, err := decodePEM(data, "DH PARAMETERS")
	if err != nil {
		return nil, err
	}
	if block.Type != "DH PARAMETERS" {
		return nil, fmt.Errorf("PEM block type %q is not DH PARAMETERS", block.Type)
	}

	var params struct {
		P *big.Int
		G *big.Int
		// PKCS#3 allows an optional privateValueLength after g.
		Rest asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(block.Bytes, &params)
	if err != nil {
		return nil, fmt.Errorf("invalid PKCS#3 DH parameters: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("invalid PKCS#3 DH parameters: %d trailing bytes", len(rest))
	}
	if params.P == nil || params.P.Sign() <= 0 {
		return nil, errors.New("DH prime is missing or not positive")
	}
	if bits := params.P.BitLen(); bits < MinKeyBits {
		return nil, fmt.Errorf("DH prime has %d bits, IB requires at least %d", bits, MinKeyBits)
	}
	// A composite modulus makes the exchange insecure without failing it.
	// Baillie-PSW costs about as much as a few DH exponentiations.
	if !params.P.ProbablyPrime(0) {
		return nil, errors.New("DH prime p is not prime; the file is damaged or was not made by openssl dhparam")
	}
	pMinus1 := new(big.Int).Sub(params.P, big.NewInt(1))
	if params.G == nil || params.G.Cmp(big.NewInt(1)) <= 0 || params.G.Cmp(pMinus1) >= 0 {
		return nil, errors.New("DH generator is outside (1, p-1)")
	}
	return &DHParams{P: params.P, G: params.G}, nil
}

// DecodeAccessTokenSecret base64-decodes the access token secret as the
// portal shows it. Spaces, line breaks and invisible format characters
// (a byte order mark, zero-width spaces) from copying are dropped, and
// missing trailing = signs and the URL-safe alphabet are accepted, since
// a wrong secret still fails the length and decryption checks.
func DecodeAccessTokenSecret(secret string) ([]byte, error) {
	cleaned := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, secret)
	if cleaned == "" {
		return nil, &CredentialError{Item: "access_token_secret", Err: errors.New("empty"), Fix: "paste the access token secret from the Self-Service Portal"}
	}
	cleaned = strings.NewReplacer("-", "+", "_", "/").Replace(cleaned)
	ciphertext, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(cleaned, "="))
	if err != nil {
		return nil, &CredentialError{
			Item: "access_token_secret",
			Err:  fmt.Errorf("invalid base64 (%d characters): %w", len(cleaned), err),
			Fix:  "paste it again from the Self-Service Portal, whole",
		}
	}
	return ciphertext, nil
}

// DecryptAccessTokenSecret decrypts the portal's access token secret with
// the private encryption key (RSAES-PKCS1-v1_5) and returns the raw secret
// bytes. keyName names the key in the error when it does not fit.
func DecryptAccessTokenSecret(secret string, key *rsa.PrivateKey, keyName string) ([]byte, error) {
	ciphertext, err := DecodeAccessTokenSecret(secret)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) != key.Size() {
		return nil, &CredentialError{
			Item: "access_token_secret",
			Err:  fmt.Errorf("decodes to %d bytes, but %s has a %d-byte modulus", len(ciphertext), keyName, key.Size()),
			Fix:  "check that the secret is the one generated for this consumer, or paste it again from the portal",
		}
	}
	plain, err := rsa.DecryptPKCS1v15(nil, key, ciphertext)
	if err != nil {
		return nil, &CredentialError{
			Item: keyName,
			Err:  errors.New("cannot decrypt the access token secret"),
			Fix:  "this must be the private key whose public half was uploaded as the encryption key for this consumer; check encryption_key and access_token_secret",
		}
	}
	return plain, nil
}

// ConsumerKeyWarning returns a warning for a consumer key that IB will
// reject as written, or "" when it looks fine. The portal upper-cases
// keys, so a key with lower-case letters gets "invalid consumer".
func ConsumerKeyWarning(key string) string {
	if key != strings.ToUpper(key) {
		return fmt.Sprintf("consumer key %q has lower-case letters; the portal upper-cases keys, so IB will answer invalid consumer: use %q", key, strings.ToUpper(key))
	}
	return ""
}

// PermissionWarning returns a warning when a private key file is readable
// by group or others, or "" when it is not.
func PermissionWarning(path string) string {
	info, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if info.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("%s is readable by group or others (mode %04o); run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	return ""
}
