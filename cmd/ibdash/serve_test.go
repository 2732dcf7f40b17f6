package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"
	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"
)

// runningServe is `ibdash --demo serve` running in-process.
type runningServe struct {
	stdout, stderr *simOutput
	cancel         context.CancelFunc
	done           chan int
	addr           string
	hostKey        gossh.PublicKey
}

var serveAddrLine = regexp.MustCompile(`listening on (\S+)`)

// isolateXDG points the XDG folders at temporary ones, so the demo keys
// and the host key of a test never touch the user's.
func isolateXDG(t *testing.T) {
	t.Helper()
	t.Cleanup(xdg.Reload)
	for _, name := range []string{"XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"} {
		t.Setenv(name, t.TempDir())
	}
	xdg.Reload()
}

// startServe runs `ibdash --demo serve --listen 127.0.0.1:0 ARGS` with
// the host key in a temporary folder, and waits until it listens.
func startServe(t *testing.T, args ...string) *runningServe {
	t.Helper()
	hostKeyPath := filepath.Join(t.TempDir(), "host_key")
	args = append([]string{"--demo", "serve", "--listen", "127.0.0.1:0", "--host-key", hostKeyPath}, args...)

	ctx, cancel := context.WithCancel(context.Background())
	r := &runningServe{stdout: &simOutput{}, stderr: &simOutput{}, cancel: cancel, done: make(chan int, 1)}
	go func() { r.done <- run(ctx, args, strings.NewReader(""), r.stdout, r.stderr) }()
	t.Cleanup(func() { r.stop(t) })

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.stdout.String(), "press Ctrl-C to stop") {
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("serve exited with %d before it listened; stderr:\n%s", code, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not listening after 30 s; stdout:\n%s", r.stdout.String())
		}
	}
	m := serveAddrLine.FindStringSubmatch(r.stdout.String())
	if m == nil {
		t.Fatalf("no address in the output:\n%s", r.stdout.String())
	}
	r.addr = m[1]

	raw, err := os.ReadFile(hostKeyPath)
	if err != nil {
		t.Fatalf("host key not written: %v", err)
	}
	signer, err := gossh.ParsePrivateKey(raw)
	if err != nil {
		t.Fatalf("host key does not parse: %v", err)
	}
	r.hostKey = signer.PublicKey()
	return r
}

// stop interrupts the command and returns its exit code.
func (r *runningServe) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60 s of the interrupt")
		return -1
	}
}

// newClientKey generates an Ed25519 key for an SSH client.
func newClientKey(t *testing.T) gossh.Signer {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// writeAuthorizedKeys writes an authorized_keys file listing keys.
func writeAuthorizedKeys(t *testing.T, keys ...gossh.Signer) string {
	t.Helper()
	var lines []byte
	for _, k := range keys {
		lines = append(lines, gossh.MarshalAuthorizedKey(k.PublicKey())...)
	}
	path := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(path, lines, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// dial connects to the server as user "viewer", checking its host key.
func (r *runningServe) dial(key gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", r.addr, &gossh.ClientConfig{
		User:            "viewer",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: gossh.FixedHostKey(r.hostKey),
		Timeout:         10 * time.Second,
	})
}

// sshViewer is one SSH session with a 100x30 pty showing the dashboard.
type sshViewer struct {
	session *gossh.Session
	stdin   io.Writer
	screen  *simOutput // everything the server wrote, escape codes included
	ended   chan error
}

func (r *runningServe) openViewer(t *testing.T, key gossh.Signer) *sshViewer {
	t.Helper()
	client, err := r.dial(key)
	if err != nil {
		t.Fatalf("dial %s: %v", r.addr, err)
	}
	t.Cleanup(func() { client.Close() })
	session, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := session.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatalf("pty request: %v", err)
	}
	v := &sshViewer{session: session, screen: &simOutput{}, ended: make(chan error, 1)}
	session.Stdout = v.screen
	session.Stderr = v.screen
	if v.stdin, err = session.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := session.Shell(); err != nil {
		t.Fatalf("shell: %v", err)
	}
	go func() { v.ended <- session.Wait() }()
	return v
}

// waitFor waits until the screen, without escape codes, contains every
// one of wants.
func (v *sshViewer) waitFor(t *testing.T, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		text := ansi.Strip(v.screen.String())
		missing := ""
		for _, w := range wants {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("screen lacks %q after 90 s; last 2000 bytes:\n%s", missing, text[max(len(text)-2000, 0):])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clearScreen drops what the viewer has received so far, so waitFor
// looks only at what the server sends next.
func (v *sshViewer) clearScreen() {
	v.screen.mu.Lock()
	defer v.screen.mu.Unlock()
	v.screen.buf.Reset()
}

// quit presses q and waits for the session to end with exit status 0.
func (v *sshViewer) quit(t *testing.T) {
	t.Helper()
	if _, err := v.stdin.Write([]byte("q")); err != nil {
		t.Fatalf("send q: %v", err)
	}
	select {
	case err := <-v.ended:
		if err != nil {
			t.Errorf("session ended with %v, want exit status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("session still open 30 s after q")
	}
}

func TestServeDemoOverSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys and runs the simulator; skipped with -short")
	}
	isolateXDG(t)
	allowed, stranger := newClientKey(t), newClientKey(t)
	r := startServe(t, "--authorized-keys", writeAuthorizedKeys(t, allowed))
	allowedPrint := gossh.FingerprintSHA256(allowed.PublicKey())

	t.Run("dashboard renders and quits", func(t *testing.T) {
		v := r.openViewer(t, allowed)
		v.waitFor(t, "ibdash", "DEMO (simulator)", "DEMOTRADE")
		v.quit(t)
		for _, want := range []string{"ssh connect", "ssh disconnect", "key=" + allowedPrint, "width=100", "height=30"} {
			if !strings.Contains(r.stderr.String(), want) {
				t.Errorf("server log lacks %q:\n%s", want, r.stderr.String())
			}
		}
	})

	t.Run("late viewer gets current state", func(t *testing.T) {
		first := r.openViewer(t, allowed)
		first.waitFor(t, "READY", "PENDING")
		// The session and the pending key change rarely, so the second
		// viewer sees them only if the broadcaster replays them.
		second := r.openViewer(t, allowed)
		second.waitFor(t, "READY", "PENDING")
		first.quit(t)
		second.quit(t)
	})

	t.Run("orders are read-only by default", func(t *testing.T) {
		v := r.openViewer(t, allowed)
		v.waitFor(t, "orders off")
		if _, err := v.stdin.Write([]byte("n")); err != nil {
			t.Fatal(err)
		}
		v.waitFor(t, "Orders are off over SSH")
		v.quit(t)
	})

	t.Run("unauthorized key rejected", func(t *testing.T) {
		client, err := r.dial(stranger)
		if err == nil {
			client.Close()
			t.Fatal("a key missing from authorized_keys was let in")
		}
		if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("dial error = %v, want an authentication failure", err)
		}
		if want := "key=" + gossh.FingerprintSHA256(stranger.PublicKey()); !strings.Contains(r.stderr.String(), want) {
			t.Errorf("server log does not name the rejected key %s:\n%s", want, r.stderr.String())
		}
	})

	t.Run("session without pty refused", func(t *testing.T) {
		client, err := r.dial(allowed)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		session, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var stderr simOutput
		session.Stderr = &stderr
		if err := session.Shell(); err != nil {
			t.Fatal(err)
		}
		err = session.Wait()
		var exit *gossh.ExitError
		if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
			t.Errorf("session ended with %v, want exit status 1", err)
		}
		if !strings.Contains(stderr.String(), "no terminal (pty)") || !strings.Contains(stderr.String(), "ssh -t") {
			t.Errorf("refusal does not say why and what to do: %q", stderr.String())
		}
	})

	t.Run("command refused", func(t *testing.T) {
		client, err := r.dial(allowed)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		session, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, err := session.CombinedOutput("cat /etc/passwd")
		var exit *gossh.ExitError
		if !errors.As(err, &exit) || exit.ExitStatus() != 1 {
			t.Errorf("session ended with %v, want exit status 1", err)
		}
		if !strings.Contains(string(out), "runs only the dashboard") {
			t.Errorf("refusal = %q", out)
		}
	})

	if code := r.stop(t); code != exitOK {
		t.Errorf("serve exited with %d after the interrupt, want 0; stderr:\n%s", code, r.stderr.String())
	}
}

// TestServeAllowOrdersOneTicket opens the real order ticket from two
// viewers of a server started with --allow-orders: the second is turned
// away while the first has it open, and gets it once the first closes it.
func TestServeAllowOrdersOneTicket(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys and runs the simulator; skipped with -short")
	}
	isolateXDG(t)
	key := newClientKey(t)
	r := startServe(t, "--authorized-keys", writeAuthorizedKeys(t, key), "--allow-orders")
	first, second := r.openViewer(t, key), r.openViewer(t, key)
	first.waitFor(t, "READY")
	second.waitFor(t, "READY")

	if _, err := first.stdin.Write([]byte("n")); err != nil {
		t.Fatal(err)
	}
	first.waitFor(t, "Order ticket")
	if _, err := second.stdin.Write([]byte("n")); err != nil {
		t.Fatal(err)
	}
	second.waitFor(t, "has the order ticket open")

	// esc closes the ticket, which frees it for the second viewer.
	if _, err := first.stdin.Write([]byte("\x1b")); err != nil {
		t.Fatal(err)
	}
	first.clearScreen()
	first.waitFor(t, "Consumer keys")
	if _, err := second.stdin.Write([]byte("n")); err != nil {
		t.Fatal(err)
	}
	second.waitFor(t, "Order ticket")
}

// TestServeShutdownEndsSessions stops the server while a viewer is
// connected: the viewer's session must end with a message rather than
// hang.
func TestServeShutdownEndsSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys and runs the simulator; skipped with -short")
	}
	isolateXDG(t)
	key := newClientKey(t)
	r := startServe(t, "--authorized-keys", writeAuthorizedKeys(t, key))
	v := r.openViewer(t, key)
	v.waitFor(t, "ibdash")

	if code := r.stop(t); code != exitOK {
		t.Errorf("serve exited with %d, want 0", code)
	}
	select {
	case <-v.ended:
	case <-time.After(30 * time.Second):
		t.Fatal("viewer session still open after the server stopped")
	}
	if screen := v.screen.String(); !strings.Contains(screen, "the server is shutting down") {
		t.Errorf("viewer was not told the server is stopping; last bytes: %q", screen[max(len(screen)-300, 0):])
	}
}

// TestServeDemoWithoutKeysOnLoopback checks that --demo without
// --authorized-keys serves on loopback, lets any client in and warns.
func TestServeDemoWithoutKeysOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys and runs the simulator; skipped with -short")
	}
	isolateXDG(t)
	r := startServe(t)
	if !strings.Contains(r.stderr.String(), "warning: --demo without --authorized-keys") {
		t.Errorf("no warning about the open server:\n%s", r.stderr.String())
	}
	v := r.openViewer(t, newClientKey(t))
	v.waitFor(t, "ibdash", "DEMO (simulator)")
	v.quit(t)
	if !strings.Contains(r.stderr.String(), "key=none") {
		t.Errorf("connect log should show that no key was used:\n%s", r.stderr.String())
	}
}

func TestServeRejectsUnsafeSetup(t *testing.T) {
	isolateXDG(t)
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(newClientKey(t).PublicKey())))
	badLine := write("bad_line", "# viewers\n"+good+" alice\nssh-ed25519 notbase64 bob\n", 0o600)
	withOptions := write("options", `from="10.0.0.1" `+good+"\n", 0o600)
	empty := write("empty", "# nobody yet\n\n", 0o600)
	writable := write("writable", good+"\n", 0o666)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no keys without demo", []string{"serve", "--listen", "127.0.0.1:0"}, "--authorized-keys is required"},
		{"demo without keys off loopback", []string{"--demo", "serve", "--listen", "0.0.0.0:0"}, "not a loopback address"},
		{"demo without keys on all interfaces", []string{"--demo", "serve", "--listen", ":2222"}, "not a loopback address"},
		{"listen without port", []string{"--demo", "serve", "--listen", "127.0.0.1"}, "is not HOST:PORT"},
		{"bad key line", []string{"serve", "--authorized-keys", badLine}, badLine + ":3:"},
		{"key options", []string{"serve", "--authorized-keys", withOptions}, "key options (from=\"10.0.0.1\") are not supported"},
		{"no keys in file", []string{"serve", "--authorized-keys", empty}, "lists no keys"},
		{"writable keys file", []string{"serve", "--authorized-keys", writable}, "chmod 644 " + writable},
		{"missing keys file", []string{"serve", "--authorized-keys", filepath.Join(dir, "absent")}, "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCommand(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr)
			}
		})
	}
}

func TestHostKeyGeneratedOnceAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "host_key")
	first, created, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first load did not report a generated key")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %04o, want 0600", info.Mode().Perm())
	}
	second, created, err := loadHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second load generated a new key")
	}
	if gossh.FingerprintSHA256(first.PublicKey()) != gossh.FingerprintSHA256(second.PublicKey()) {
		t.Error("second load returned a different key")
	}
}

func TestHostKeyRejectsUnsafeFiles(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if _, _, err := loadHostKey(open); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := loadHostKey(open)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+open) {
		t.Errorf("group-readable key gave %v, want the chmod fix", err)
	}

	garbage := filepath.Join(dir, "garbage")
	secret := "PRIVATE-MATERIAL-THAT-MUST-NOT-LEAK"
	if err := os.WriteFile(garbage, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = loadHostKey(garbage)
	if err == nil || !strings.Contains(err.Error(), "not an OpenSSH or PEM private key") {
		t.Errorf("garbage key gave %v", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("error repeats the file's contents: %v", err)
	}
}
