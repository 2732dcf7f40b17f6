package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ibdash/ibdash/ibclient"
)

func init() {
	commands["keygen"] = command{
		summary: "make the RSA key pairs and dhparam.pem that IB's Self-Service Portal asks for",
		run:     runKeygen,
	}
}

// keygenProgressEvery is the pause between two progress lines of the
// safe prime search.
var keygenProgressEvery = 2 * time.Second

// keyFiles are the files keygen writes, in the order it writes them.
var keyFiles = []struct {
	name    string
	private bool
}{
	{"private_signature.pem", true},
	{"public_signature.pem", false},
	{"private_encryption.pem", true},
	{"public_encryption.pem", false},
	{"dhparam.pem", false},
}

func runKeygen(ctx context.Context, env *environment, args []string) int {
	fs := env.newFlagSet("keygen", "keygen --dir DIR [--dh-bits N]")
	dir := fs.String("dir", "", "folder to write the key files into (created if missing)")
	dhBits := fs.Int("dh-bits", 2048, "size of the DH prime in bits; IB requires 2048, smaller sizes are for tests only")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *dir == "" {
		return env.usageError(fs, "keygen: --dir is required, for example: ibdash keygen --dir ~/.config/ibdash/keys")
	}
	if *dhBits < 512 {
		return env.usageError(fs, "keygen: --dh-bits %d is too small; use 2048 (IB's requirement)", *dhBits)
	}

	if err := os.MkdirAll(*dir, 0o700); err != nil {
		env.errorf("keygen: %v", err)
		return exitFailure
	}
	for _, f := range keyFiles {
		path := filepath.Join(*dir, f.name)
		if _, err := os.Lstat(path); err == nil {
			env.errorf("keygen: %s already exists; keygen never overwrites key files: choose another --dir or move the old files away", path)
			return exitFailure
		}
	}

	files, err := generateKeyFiles(ctx, env.stderr, *dhBits)
	if err != nil {
		env.errorf("keygen: %v", err)
		return exitFailure
	}
	for _, f := range keyFiles {
		mode := os.FileMode(0o644)
		if f.private {
			mode = 0o600
		}
		if err := writeNewFile(filepath.Join(*dir, f.name), files[f.name], mode); err != nil {
			env.errorf("keygen: %v", err)
			return exitFailure
		}
	}

	fmt.Fprintf(env.stdout, "Wrote the key files to %s.\n\n", *dir)
	fmt.Fprintln(env.stdout, "Upload these three in the Self-Service Portal:")
	fmt.Fprintln(env.stdout, "  public_signature.pem   as the public signing key")
	fmt.Fprintln(env.stdout, "  public_encryption.pem  as the public encryption key")
	fmt.Fprintln(env.stdout, "  dhparam.pem            as the Diffie-Hellman parameters")
	fmt.Fprintln(env.stdout)
	fmt.Fprintln(env.stdout, "Keep these two private (mode 0600), and name them in config.toml:")
	fmt.Fprintln(env.stdout, "  private_signature.pem  signature_key")
	fmt.Fprintln(env.stdout, "  private_encryption.pem encryption_key")
	if *dhBits < ibclient.MinKeyBits {
		fmt.Fprintf(env.stdout, "\nWarning: dhparam.pem has a %d-bit prime; IB requires %d bits.\n", *dhBits, ibclient.MinKeyBits)
	}
	return exitOK
}

// generateKeyFiles makes both RSA-2048 key pairs and the DH parameters and
// returns the PEM text of each file by name. The DH search reports its
// progress on w, since a 2048-bit search takes minutes.
func generateKeyFiles(ctx context.Context, w io.Writer, dhBits int) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, use := range []string{"signature", "encryption"} {
		fmt.Fprintf(w, "Generating the RSA-2048 %s key pair...\n", use)
		key, err := ibclient.GenerateRSAKey(2048)
		if err != nil {
			return nil, err
		}
		if files["private_"+use+".pem"], err = ibclient.EncodePrivateKeyPEM(key); err != nil {
			return nil, err
		}
		if files["public_"+use+".pem"], err = ibclient.EncodePublicKeyPEM(&key.PublicKey); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(w, "Searching for a %d-bit safe prime for dhparam.pem; this can take several minutes.\n", dhBits)
	start := time.Now()
	last := start
	progress := func(candidates int) {
		if ctx.Err() != nil {
			return
		}
		if now := time.Now(); now.Sub(last) >= keygenProgressEvery {
			fmt.Fprintf(w, "  %d candidates tested, %s elapsed\n", candidates, now.Sub(start).Round(time.Second))
			last = now
		}
	}
	params, err := ibclient.GenerateDHParams(cancelReader{ctx, rand.Reader}, dhBits, progress)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errors.New("interrupted; no files were written")
		}
		return nil, err
	}
	fmt.Fprintf(w, "Found a safe prime in %s.\n", time.Since(start).Round(time.Millisecond))
	if files["dhparam.pem"], err = ibclient.EncodeDHParamsPEM(params); err != nil {
		return nil, err
	}
	return files, nil
}

// cancelReader stops the prime search when ctx ends, by failing the next
// read of randomness.
type cancelReader struct {
	ctx context.Context
	r   io.Reader
}

func (c cancelReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writeNewFile creates path with mode and data, failing if it exists.
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
