package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestHijackedResponse checks a handler that takes the connection over
// (as a websocket upgrade does) gets it to itself: nothing is written
// after its own bytes.
func TestHijackedResponse(t *testing.T) {
	s := NewServer(Config{})
	err := s.Mount(Service{Name: "raw", Prefix: "/raw", Dialect: DialectPlain, Routes: []Route{
		{Method: http.MethodGet, Path: "/tunnel", Handler: func(c *gin.Context) (*Response, error) {
			conn, rw, err := c.Writer.Hijack()
			if err != nil {
				return nil, err
			}
			defer conn.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello")
			_ = rw.Flush()
			return Hijacked(), nil
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /raw/tunnel HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(rest) != "hello" {
		t.Fatalf("after the handshake the client read %q, want only the handler's bytes", rest)
	}
}
