package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"github.com/ibdash/ibdash/config"
	"github.com/ibdash/ibdash/tui"
)

func init() {
	commands["serve"] = command{
		summary: "the dashboard over SSH: every viewer shares one IB session; read-only unless --allow-orders",
		run:     runServe,
	}
}

// serveShutdownTimeout bounds how long serve waits for the sessions to
// end after it has quit their dashboards; then it closes the
// connections.
const serveShutdownTimeout = 5 * time.Second

// serveFlags are the serve command's settings.
type serveFlags struct {
	listen         string
	hostKey        string
	authorizedKeys string
	allowOrders    bool
}

func runServe(ctx context.Context, env *environment, args []string) int {
	var f serveFlags
	fs := env.newFlagSet("serve", "serve [--listen HOST:PORT] [--host-key PATH] --authorized-keys PATH [--allow-orders] [--demo]")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:2222", "`address` to accept SSH connections on; port 0 picks a free port")
	fs.StringVar(&f.hostKey, "host-key", defaultHostKeyPath(), "SSH host key `file`; an Ed25519 key is generated there, mode 0600, when it does not exist")
	fs.StringVar(&f.authorizedKeys, "authorized-keys", "", "OpenSSH authorized_keys `file` of the public keys that may connect; required unless --demo listens on loopback")
	fs.BoolVar(&f.allowOrders, "allow-orders", false, "let viewers place and cancel orders, one open ticket at a time across all viewers; without it viewers are read-only")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if err := checkServeAccess(f, env.demo); err != nil {
		env.errorf("serve: %v", err)
		return exitUsage
	}
	if f.authorizedKeys != "" {
		if _, err := loadAuthorizedKeys(f.authorizedKeys); err != nil {
			env.errorf("serve: %v", err)
			return exitUsage
		}
	}

	var cfg *config.Config
	if !env.demo {
		var err error
		cfg, err = config.Load(config.DefaultPath(env.configPath))
		if err != nil {
			env.errorf("%v", err)
			return exitUsage
		}
	}
	signer, created, err := loadHostKey(f.hostKey)
	if err != nil {
		env.errorf("serve: %v", err)
		return exitFailure
	}

	s := newSSHServer(env, f, cfg)
	srv, err := s.newServer(signer)
	if err != nil {
		env.errorf("serve: %v", err)
		return exitFailure
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		env.errorf("serve: cannot listen on %s: %v", f.listen, err)
		return exitFailure
	}

	dataCtx, cancelData := context.WithCancel(ctx)
	defer cancelData()
	go s.dash.start(dataCtx, cfg)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.printStart(f, ln.Addr(), signer.PublicKey(), created)

	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-served:
		env.errorf("serve: %v", err)
		code = exitFailure
	}
	s.shutdown(srv)
	cancelData()
	s.dash.stop()
	s.log.Info("serve stopped")
	return code
}

// checkServeAccess rejects a server that anyone could reach: without
// --authorized-keys every client is let in, which only --demo on a
// loopback address may do.
func checkServeAccess(f serveFlags, demo bool) error {
	host, _, err := net.SplitHostPort(f.listen)
	if err != nil {
		return fmt.Errorf("--listen %q is not HOST:PORT, such as 127.0.0.1:2222", f.listen)
	}
	if f.authorizedKeys != "" {
		return nil
	}
	if !demo {
		return errors.New("--authorized-keys is required: without it anyone who reaches --listen could watch this IB session; pass a file with the viewers' public keys, one per line")
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("--listen %q is not a loopback address, and --demo without --authorized-keys lets anyone in; use 127.0.0.1 or [::1], or pass --authorized-keys", f.listen)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sshServer serves one dashboard per SSH session from one data side.
type sshServer struct {
	env         *environment
	log         *slog.Logger // connections and server events
	cfg         *config.Config
	allowOrders bool
	keysPath    string

	dash   *dashboard
	fanout *broadcaster
	gate   *orderGate

	mu       sync.Mutex
	closing  bool
	programs map[*tea.Program]struct{}
	sessions sync.WaitGroup
}

func newSSHServer(env *environment, f serveFlags, cfg *config.Config) *sshServer {
	fanout := newBroadcaster()
	dataLog := serveLogger(env, slog.LevelWarn)
	return &sshServer{
		env:         env,
		log:         serveLogger(env, slog.LevelInfo).With("component", "serve"),
		cfg:         cfg,
		allowOrders: f.allowOrders,
		keysPath:    f.authorizedKeys,
		dash:        &dashboard{env: env, logger: dataLog, program: fanout, ready: make(chan struct{})},
		fanout:      fanout,
		gate:        newOrderGate(),
		programs:    map[*tea.Program]struct{}{},
	}
}

// serveLogger returns a logger for stderr at level and, with --debug,
// for the debug file at every level. No TUI owns the server's stderr:
// each viewer's dashboard is drawn on that viewer's SSH channel.
func serveLogger(env *environment, level slog.Level) *slog.Logger {
	stderr := slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level})
	if env.debugPath == "" {
		return slog.New(stderr)
	}
	return slog.New(slog.NewMultiHandler(stderr, env.logger.Handler()))
}

// newServer builds the SSH server. Middleware runs from the last listed
// to the first: log the session, require a terminal, run the dashboard.
func (s *sshServer) newServer(signer gossh.Signer) (*ssh.Server, error) {
	opts := []ssh.Option{
		func(srv *ssh.Server) error { srv.AddHostKey(signer); return nil },
		wish.WithMiddleware(
			bubbletea.MiddlewareWithProgramHandler(s.newProgram),
			s.requireTerminal,
			s.trackSession,
		),
	}
	// With no auth handler the server lets every client in, which
	// runServe allows only for --demo on loopback.
	if s.keysPath != "" {
		opts = append(opts, wish.WithPublicKeyAuth(s.authorize))
	}
	return wish.NewServer(opts...)
}

// authorize accepts a key listed in the authorized keys file. The file is
// read at every attempt, so a key removed from it is rejected without a
// restart. When the file no longer loads, every key is rejected.
func (s *sshServer) authorize(ctx ssh.Context, key ssh.PublicKey) bool {
	keys, err := loadAuthorizedKeys(s.keysPath)
	if err != nil {
		s.log.Error("ssh auth: loading the authorized keys failed; rejecting every key", "err", err)
		return false
	}
	for _, k := range keys {
		if ssh.KeysEqual(k, key) {
			return true
		}
	}
	s.log.Info("ssh key not authorized", "user", ctx.User(), "remote", ctx.RemoteAddr().String(),
		"key", gossh.FingerprintSHA256(key))
	return false
}

// contextKeySession stores the *viewerSession in its ssh.Context.
var contextKeySession = &struct{ name string }{"ibdash-session"}

// viewerSession is serve's record of one SSH session. newProgram sets
// program and queue on the goroutine that runs trackSession, which frees
// them after the program has ended.
type viewerSession struct {
	viewer  *viewer
	program *tea.Program
	queue   *viewerQueue
}

// trackSession logs the connect and the disconnect, and frees what the
// session held: its place in the broadcast, its program and the order
// ticket.
func (s *sshServer) trackSession(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			wish.Fatalln(sess, "ibdash serve is shutting down; try again later")
			return
		}
		s.sessions.Add(1)
		s.mu.Unlock()
		defer s.sessions.Done()

		id := sess.Context().SessionID()
		v := &viewer{id: id[:min(len(id), 12)], name: sess.User() + "@" + sess.RemoteAddr().String()}
		vs := &viewerSession{viewer: v}
		sess.Context().SetValue(contextKeySession, vs)
		fingerprint := "none"
		if key := sess.PublicKey(); key != nil {
			fingerprint = gossh.FingerprintSHA256(key)
		}
		pty, _, _ := sess.Pty()
		attrs := []any{"session", v.id, "user", sess.User(), "remote", sess.RemoteAddr().String(), "key", fingerprint}
		s.log.Info("ssh connect", append(attrs, "term", pty.Term, "width", pty.Window.Width,
			"height", pty.Window.Height, "client", sess.Context().ClientVersion())...)
		start := time.Now()

		next(sess)

		if vs.queue != nil {
			s.fanout.remove(vs.queue)
		}
		s.mu.Lock()
		delete(s.programs, vs.program)
		closing := s.closing
		s.mu.Unlock()
		if closing {
			wish.Errorln(sess, "ibdash serve: the server is shutting down")
		}
		s.gate.release(v)
		s.log.Info("ssh disconnect", append(attrs, "duration", time.Since(start).Round(time.Second).String())...)
	}
}

// requireTerminal ends a session that has no pty, or that requests a
// command, with a message on how to connect.
func (s *sshServer) requireTerminal(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if cmd := sess.RawCommand(); cmd != "" {
			s.log.Info("ssh session rejected: a command was requested", "user", sess.User(), "remote", sess.RemoteAddr().String())
			wish.Fatalln(sess, fmt.Sprintf("ibdash serve runs only the dashboard, not commands such as %q; connect with ssh -t and no command", cmd))
			return
		}
		if _, _, ok := sess.Pty(); !ok {
			s.log.Info("ssh session rejected: no pty requested", "user", sess.User(), "remote", sess.RemoteAddr().String())
			wish.Fatalln(sess, "ibdash serve: this session has no terminal (pty), which the dashboard needs; connect with ssh -t, and without -T")
			return
		}
		next(sess)
	}
}

// newProgram builds the dashboard of one session: its own model, sized
// to its pty and with the color profile of its TERM, fed by the shared
// data side through the broadcaster.
func (s *sshServer) newProgram(sess ssh.Session) *tea.Program {
	vs, _ := sess.Context().Value(contextKeySession).(*viewerSession)
	if vs == nil {
		// trackSession runs before this handler, so a nil session is a bug.
		wish.Fatalln(sess, "ibdash serve: internal error: session not tracked")
		return nil
	}
	v := vs.viewer
	opts := s.dash.options(s.cfg)
	opts.Logger = s.dash.logger.With("component", "tui", "session", v.id)
	s.gate.orderOptions(&opts, v, s.allowOrders)
	model := viewerModel{dash: tui.New(opts), ticketClosed: func() { s.gate.release(v) }}

	// The server handles SIGINT and SIGTERM itself, so a program must not
	// take them as the key presses of its viewer.
	p := tea.NewProgram(model, append(bubbletea.MakeOptions(sess), tea.WithoutSignalHandler(), tea.WithFPS(tui.FrameRate))...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		wish.Fatalln(sess, "ibdash serve is shutting down; try again later")
		return nil
	}
	s.programs[p] = struct{}{}
	vs.program = p
	vs.queue = s.fanout.add(p)
	return p
}

// shutdown quits every dashboard, so each viewer's terminal is restored,
// waits up to serveShutdownTimeout for the sessions to end, then closes
// the listener and every connection.
func (s *sshServer) shutdown(srv *ssh.Server) {
	s.mu.Lock()
	s.closing = true
	programs := make([]*tea.Program, 0, len(s.programs))
	for p := range s.programs {
		programs = append(programs, p)
	}
	s.mu.Unlock()
	// Quit waits for the program's event loop, so it runs outside the
	// lock.
	for _, p := range programs {
		p.Quit()
	}

	ended := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(serveShutdownTimeout):
		s.log.Warn("sessions still open at shutdown; closing their connections")
	}
	if err := srv.Close(); err != nil {
		s.log.Warn("closing the SSH listener", "err", err)
	}
	<-ended
}

// printStart prints where the server listens and how it lets viewers in.
func (s *sshServer) printStart(f serveFlags, addr net.Addr, hostKey gossh.PublicKey, created bool) {
	out := s.env.stdout
	fmt.Fprintf(out, "ibdash serve: listening on %s\n", addr)
	verb := "host key"
	if created {
		verb = "generated host key"
	}
	fmt.Fprintf(out, "ibdash serve: %s %s in %s\n", verb, gossh.FingerprintSHA256(hostKey), f.hostKey)
	if f.authorizedKeys != "" {
		fmt.Fprintf(out, "ibdash serve: viewers sign in with a key listed in %s\n", f.authorizedKeys)
	} else {
		s.env.errorf("serve: warning: --demo without --authorized-keys: anyone who can reach %s connects without a key", addr)
	}
	if f.allowOrders {
		fmt.Fprintln(out, "ibdash serve: orders on: one viewer at a time may have the order ticket open")
	} else {
		fmt.Fprintln(out, "ibdash serve: viewers are read-only; --allow-orders lets them place and cancel orders")
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		fmt.Fprintf(out, "ibdash serve: connect with: ssh -p %d %s\n", tcp.Port, tcp.IP)
	}
	fmt.Fprintln(out, "ibdash serve: press Ctrl-C to stop")
}
