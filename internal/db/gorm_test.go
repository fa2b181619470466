package db_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestOpenUnreachable(t *testing.T) {
	cases := []struct {
		name, dsn string
		timeout   time.Duration
		wantInMsg string
	}{
		{"refused URL", "postgres://kumo:secret@127.0.0.1:1/kumo", 10 * time.Second, "database postgres://kumo:***@127.0.0.1:1/kumo: "},
		{"refused keyword DSN", "host=127.0.0.1 port=1 user=kumo password=secret dbname=kumo", 10 * time.Second, "password=***"},
		{"password in URL query", "postgres://kumo@127.0.0.1:1/kumo?password=secret", 10 * time.Second, "password=***"},
		// A server that accepts and never answers: only ctx bounds the attempt.
		{"hung server", "postgres://kumo:secret@" + hungServer(t) + "/kumo?connect_timeout=60", time.Second, "context deadline exceeded"},
		{"unparsable URL", "postgres://kumo:secret@127.0.0.1:notaport/kumo", 10 * time.Second, "database postgres://kumo:***@"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			start := time.Now()
			gdb, err := db.Open(ctx, tc.dsn, nil)
			elapsed := time.Since(start)
			if err == nil {
				_ = gdb
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			t.Logf("after %s: %s", elapsed.Round(time.Millisecond), msg)
			if elapsed > tc.timeout+time.Second {
				t.Errorf("Open took %s, timeout was %s", elapsed, tc.timeout)
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("error reveals the password: %s", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("error %q does not contain %q", msg, tc.wantInMsg)
			}
		})
	}
}

// hungServer listens on a local port, accepts connections and never
// answers, like a server behind a black-holing firewall.
func hungServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestRedactDSN(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://kumo:secret@db.example:5432/kumo?sslmode=disable", "postgres://kumo:***@db.example:5432/kumo?sslmode=disable"},
		{"postgresql://kumo@db/kumo", "postgresql://kumo@db/kumo"},
		{"postgres://kumo:p%40ss@db/kumo", "postgres://kumo:***@db/kumo"},
		{"host=/run/pg user=kumo password=secret dbname=kumo", "host=/run/pg user=kumo password=*** dbname=kumo"},
		{"host=db password = 'se cret' dbname=kumo", "host=db password = *** dbname=kumo"},
		{"host=/x/run user=kumo dbname=kumo sslmode=disable", "host=/x/run user=kumo dbname=kumo sslmode=disable"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := db.RedactDSN(tc.in); got != tc.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestGormLoggerHidesParameters(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gdb, err := db.Open(t.Context(), testutil.Postgres(t), log)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := gdb.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })

	var s string
	if err := gdb.Raw("SELECT ?::text", "topsecret").Scan(&s).Error; err != nil || s != "topsecret" {
		t.Fatalf("query = %q, %v", s, err)
	}
	if err := gdb.Exec("SELECT * FROM no_such_table WHERE x = ?", "topsecret").Error; err == nil {
		t.Fatal("query on a missing table succeeded")
	}
	out := buf.String()
	if strings.Contains(out, "topsecret") {
		t.Errorf("log reveals a query parameter:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN msg=\"query failed\"") || !strings.Contains(out, "$1") {
		t.Errorf("log lacks the failed query with its placeholder:\n%s", out)
	}
}

func TestPingWithoutDeadline(t *testing.T) {
	gdb := testutil.DB(t)
	if err := db.Ping(context.Background(), gdb); err != nil {
		t.Fatal(err)
	}
}
