package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/adrg/xdg"
	gossh "golang.org/x/crypto/ssh"
)

// defaultHostKeyPath returns where serve keeps its SSH host key. The key
// is the server's identity, which viewers pin in known_hosts, so it lives
// in the XDG data folder rather than the cache.
func defaultHostKeyPath() string {
	return filepath.Join(xdg.DataHome, "ibdash", "ssh_host_ed25519_key")
}

// loadHostKey reads the host key at path, or generates an Ed25519 key
// there (mode 0600, folder 0700) when the file does not exist. Errors
// never include key material.
func loadHostKey(path string) (signer gossh.Signer, created bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		signer, err = writeHostKey(path)
		return signer, err == nil, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}

	info, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("host key: %w", err)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return nil, false, fmt.Errorf("host key %s is open to other users (mode %04o); run chmod 600 %s", path, mode, path)
	}

	signer, err = gossh.ParsePrivateKey(raw)
	var missing *gossh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, false, fmt.Errorf("host key %s is encrypted with a passphrase; ibdash serve needs an unencrypted key, so remove the file to have one generated or point --host-key at another", path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("host key %s is not an OpenSSH or PEM private key (%v); remove the file to have one generated or point --host-key at another", path, err)
	}
	return signer, false, nil
}

// writeHostKey generates an Ed25519 host key and writes it to path in
// the OpenSSH format. O_EXCL keeps it from replacing a file that another
// process wrote in the meantime.
func writeHostKey(path string) (gossh.Signer, error) {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("host key: generate: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(private, "ibdash serve host key")
	if err != nil {
		return nil, fmt.Errorf("host key: encode: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		return nil, fmt.Errorf("host key: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("host key: write %s: %w", path, err)
	}
	return gossh.NewSignerFromKey(private)
}

// loadAuthorizedKeys reads an OpenSSH authorized_keys file: one public
// key per line, blank lines and # comments ignored. A line with options
// (from=, command=, restrict) is an error, since serve cannot enforce
// them and accepting the key without them would grant more than the
// file allows. The file must not be writable by other users, as sshd's
// StrictModes also requires.
func loadAuthorizedKeys(path string) ([]gossh.PublicKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--authorized-keys: %w", err)
	}
	if mode := info.Mode().Perm(); mode&0o022 != 0 {
		return nil, fmt.Errorf("authorized keys file %s is writable by other users (mode %04o); run chmod 644 %s", path, mode, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--authorized-keys: %w", err)
	}

	var keys []gossh.PublicKey
	for i, line := range bytes.Split(raw, []byte("\n")) {
		text := strings.TrimSpace(string(line))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, _, options, _, err := gossh.ParseAuthorizedKey([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not a public key line such as `ssh-ed25519 AAAA... user@host`: %v", path, i+1, err)
		}
		if len(options) > 0 {
			return nil, fmt.Errorf("%s:%d: key options (%s) are not supported by ibdash serve; remove them or list the key in a separate file",
				path, i+1, strings.Join(options, ","))
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s lists no keys; add one line per viewer, such as the contents of ~/.ssh/id_ed25519.pub", path)
	}
	return keys, nil
}
