package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ibdash/ibdash/ibclient"
)

func runCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestKeygenWritesLoadableFiles(t *testing.T) {
	// A progress line after every candidate, so a fast 512-bit search
	// shows some.
	saved := keygenProgressEvery
	keygenProgressEvery = 0
	t.Cleanup(func() { keygenProgressEvery = saved })

	dir := filepath.Join(t.TempDir(), "keys")
	code, stdout, stderr := runCommand(t, "keygen", "--dir", dir, "--dh-bits", "512")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"public_signature.pem", "public_encryption.pem", "dhparam.pem", "Upload"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "Searching for a 512-bit safe prime") || !strings.Contains(stderr, "Found a safe prime") {
		t.Errorf("search start and end not shown on stderr:\n%s", stderr)
	}
	if !regexp.MustCompile(`(?m)^  \d+ candidates tested, \d+s elapsed$`).MatchString(stderr) {
		t.Errorf("no progress line on stderr:\n%s", stderr)
	}

	for _, f := range keyFiles {
		info, err := os.Stat(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if f.private && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", f.name, info.Mode().Perm())
		}
	}
	for _, use := range []string{"signature", "encryption"} {
		private, err := ibclient.LoadRSAPrivateKey(filepath.Join(dir, "private_"+use+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "public_"+use+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		public, err := ibclient.ParseRSAPublicKey(data)
		if err != nil {
			t.Fatalf("public_%s.pem: %v", use, err)
		}
		if !public.Equal(&private.PublicKey) {
			t.Errorf("public_%s.pem is not the public half of private_%s.pem", use, use)
		}
	}
	// The DH file is 512 bits here, under IB's minimum, so the loader
	// must reject it; the PEM itself must still be valid PKCS#3.
	data, _ := os.ReadFile(filepath.Join(dir, "dhparam.pem"))
	if _, err := ibclient.ParseDHParams(data); err == nil || !strings.Contains(err.Error(), "512 bits") {
		t.Errorf("512-bit dhparam.pem: %v", err)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "dhparam", "-in", filepath.Join(dir, "dhparam.pem"), "-check", "-noout").CombinedOutput()
		if err != nil {
			t.Errorf("openssl rejects dhparam.pem: %v: %s", err, out)
		}
		out, err = exec.Command("openssl", "rsa", "-pubin", "-in", filepath.Join(dir, "public_signature.pem"), "-noout").CombinedOutput()
		if err != nil {
			t.Errorf("openssl rejects public_signature.pem: %v: %s", err, out)
		}
	}
}

func TestKeygenNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "dhparam.pem")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCommand(t, "keygen", "--dir", dir, "--dh-bits", "512")
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "already exists") {
		t.Errorf("stderr %q does not say the file exists", stderr)
	}
	data, _ := os.ReadFile(existing)
	if string(data) != "keep me" {
		t.Error("existing file was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "private_signature.pem")); err == nil {
		t.Error("keygen wrote other files after finding an existing one")
	}
}

func TestKeygenUsage(t *testing.T) {
	if code, _, stderr := runCommand(t, "keygen"); code != exitUsage || !strings.Contains(stderr, "--dir is required") {
		t.Errorf("no --dir: exit %d, %q", code, stderr)
	}
	if code, _, _ := runCommand(t, "keygen", "--dir", t.TempDir(), "--dh-bits", "64"); code != exitUsage {
		t.Errorf("tiny --dh-bits: exit %d, want %d", code, exitUsage)
	}
}
