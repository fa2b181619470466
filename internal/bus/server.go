package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// serverReadyTimeout bounds how long StartServer waits for the embedded
// server to accept client connections.
const serverReadyTimeout = 10 * time.Second

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	// StoreDir is the JetStream store directory; it is required so that
	// durable work survives restarts.
	StoreDir string
	// Host is the address to listen on; empty means 127.0.0.1.
	Host string
	// Port is the client port; -1 picks a random free port, 0 means 4222.
	Port int
	// Log receives the server's own log lines; nil discards them.
	Log *slog.Logger
}

// Server is a running embedded nats-server with JetStream enabled.
type Server struct {
	ns   *server.Server
	log  *slog.Logger
	once sync.Once
}

// StartServer runs the real nats-server in this process with JetStream
// stored in cfg.StoreDir and waits until it accepts client connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("bus: start server: StoreDir is required")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: start server: store dir: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "nats-server")
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName: "kumo",
		Host:       host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: start server: %w", err)
	}
	// nats-server calls Fatalf for errors such as a port in use or an
	// unusable store and then expects the logger to exit the process; the
	// adapter records the error instead so StartServer can return it.
	adapter := &serverLogger{log: log}
	ns.SetLoggerV2(adapter, log.Enabled(context.Background(), slog.LevelDebug), false, false)

	// Start runs synchronously up to opening the client listener, so by the
	// time it returns any startup failure has been reported to the adapter.
	ns.Start()
	if err := adapter.fatalErr(); err != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("bus: start server: %w", err)
	}
	if !ns.ReadyForConnections(serverReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		err := fmt.Errorf("not ready for connections after %s", serverReadyTimeout)
		if ferr := adapter.fatalErr(); ferr != nil {
			err = ferr
		}
		return nil, fmt.Errorf("bus: start server: %w", err)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("bus: start server: JetStream did not start")
	}
	s := &Server{ns: ns, log: log}
	log.Info("embedded NATS server ready", "client_url", ns.ClientURL(), "store_dir", cfg.StoreDir)
	return s, nil
}

// ClientURL returns the nats:// URL clients use to reach this server.
func (s *Server) ClientURL() string {
	return s.ns.ClientURL()
}

// Shutdown stops the server and waits until it has stopped; it is safe to
// call more than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.log.Info("embedded NATS server stopped")
	})
}

// serverLogger adapts nats-server's logger interface to slog.
type serverLogger struct {
	log *slog.Logger

	mu    sync.Mutex
	fatal error
}

// fatalErr returns the first fatal error the server reported, if any.
func (l *serverLogger) fatalErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}

// Noticef logs a notice at debug level: nats-server is chatty at start.
func (l *serverLogger) Noticef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

// Warnf logs a warning.
func (l *serverLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}

// Fatalf logs an error and records it instead of exiting the process.
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, "fatal", true)
	l.mu.Lock()
	if l.fatal == nil {
		l.fatal = errors.New(msg)
	}
	l.mu.Unlock()
}

// Errorf logs an error.
func (l *serverLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}

// Debugf logs a debug line.
func (l *serverLogger) Debugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...))
}

// Tracef logs protocol traces at a level below debug.
func (l *serverLogger) Tracef(format string, v ...any) {
	l.log.Log(context.Background(), slog.LevelDebug-4, fmt.Sprintf(format, v...))
}
