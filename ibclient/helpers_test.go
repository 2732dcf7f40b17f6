package ibclient

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"math/big"
)

func hmacSHA1(key, msg []byte) []byte {
	mac := hmac.New(sha1.New, key)
	mac.Write(msg)
	return mac.Sum(nil)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func bigOne() *big.Int { return big.NewInt(1) }

func bigSub(n *big.Int, d int64) *big.Int { return new(big.Int).Sub(n, big.NewInt(d)) }
