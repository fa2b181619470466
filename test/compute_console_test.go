package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/remoteconsoles"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/kumo-cloud/kumo/internal/db"
)

// serialConsole is an open serial console websocket.
type serialConsole struct {
	ws   *websocket.Conn
	recv chan []byte
	err  chan error
	// first is when expect first received output.
	first time.Time
}

// dialSerial opens a serial console URL; the returned error is the
// handshake's, with the HTTP status when the server refused.
func dialSerial(ctx context.Context, url string) (*serialConsole, *http.Response, error) {
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		return nil, resp, err
	}
	sc := &serialConsole{ws: ws, recv: make(chan []byte, 256), err: make(chan error, 1)}
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				sc.err <- err
				close(sc.recv)
				return
			}
			sc.recv <- data
		}
	}()
	return sc, resp, nil
}

// read collects output until it contains want or d passes; ok says which.
// A closed console fails the test.
func (sc *serialConsole) read(t *testing.T, got *strings.Builder, want string, d time.Duration) bool {
	t.Helper()
	deadline := time.After(d)
	for !strings.Contains(got.String(), want) {
		select {
		case data, ok := <-sc.recv:
			if !ok {
				t.Fatalf("console closed before %q: %v; read:\n%s", want, <-sc.err, got.String())
			}
			if sc.first.IsZero() {
				sc.first = time.Now()
			}
			got.Write(data)
		case <-deadline:
			return false
		}
	}
	return true
}

// command types line into the guest's shell until want appears: the shell
// on ttyS0 may still be starting (input typed before it runs is lost), so
// the line is typed again, after a Ctrl-U that clears any partial input,
// every few seconds. It returns all output read.
func (sc *serialConsole) command(t *testing.T, line, want string, timeout time.Duration) string {
	t.Helper()
	var got strings.Builder
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		sc.send(t, "\x15"+line+"\r")
		if sc.read(t, &got, want, 5*time.Second) {
			return got.String()
		}
	}
	t.Fatalf("no %q on the serial console after %s; read:\n%q", want, timeout, got.String())
	return ""
}

func (sc *serialConsole) send(t *testing.T, s string) {
	t.Helper()
	if err := sc.ws.Write(context.Background(), websocket.MessageBinary, []byte(s)); err != nil {
		t.Fatalf("write to the serial console: %v", err)
	}
}

// deleteServerWait deletes a server and waits until it is gone, so that no
// domain outlives the test's kumod.
func deleteServerWait(t *testing.T, cc *gophercloud.ServiceClient, id string) {
	t.Helper()
	ctx := context.Background()
	if err := servers.Delete(ctx, cc, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("delete server %s: %v", id, err)
		return
	}
	waitFor(t, 2*time.Minute, "server "+id+" gone", func() error {
		_, err := servers.Get(ctx, cc, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

// TestComputeSerialConsole boots kumo-tiny, gets a serial console URL the
// Nova ways (remote-consoles at 2.6, os-getSerialConsole before), types a
// command into the guest's shell over the websocket and reads its result;
// tokens are single-use and bogus ones refused; another project cannot
// get a console; a stopped server has none, and stopping it ends an open
// session.
func TestComputeSerialConsole(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	cc := compute(t, pc, "2.6")
	ctx := context.Background()
	imageID := tinyServerImage(t, c, pc)
	flavorID := testFlavor(t, cc, 128, 1, 1)
	name := strings.ToLower(strings.ReplaceAll(uniq("console"), "_", "-"))
	created, err := servers.Create(ctx, cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorID, Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	id := created.ID
	t.Cleanup(func() { deleteServerWait(t, cc, id) })
	waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
	waitFor(t, 3*time.Minute, "KUMO-TINY READY", func() error {
		out, err := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{}).Extract()
		if err != nil {
			return err
		}
		if !strings.Contains(out, "KUMO-TINY READY") {
			return fmt.Errorf("not ready; tail %q", tailLines(out, 3))
		}
		return nil
	})
	serverURL := c.URL + "/compute/v2.1/servers/" + id
	at := func(v string) map[string]string { return map[string]string{"OpenStack-API-Version": "compute " + v} }

	rc, err := remoteconsoles.Create(ctx, cc, id, remoteconsoles.CreateOpts{Protocol: remoteconsoles.ConsoleProtocolSerial,
		Type: remoteconsoles.ConsoleTypeSerial}).Extract()
	if err != nil {
		t.Fatalf("create remote console: %v", err)
	}
	wantPrefix := strings.Replace(c.URL, "http://", "ws://", 1) + "/compute/console/serial/?token="
	if rc.Protocol != "serial" || rc.Type != "serial" || !strings.HasPrefix(rc.URL, wantPrefix) || len(rc.URL) <= len(wantPrefix) {
		t.Fatalf("remote console = %+v, want a url starting %s", rc, wantPrefix)
	}

	var b [4]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	start := time.Now()
	con, _, err := dialSerial(ctx, rc.URL)
	if err != nil {
		t.Fatalf("open the serial console: %v", err)
	}
	opened := time.Since(start)
	// The shell evaluates the arithmetic, so the answer cannot be the
	// terminal echoing what was typed.
	con.command(t, fmt.Sprintf("echo hello-$((6*7))-%s", nonce), "hello-42-"+nonce, 2*time.Minute)
	t.Logf("FIGURE serial console: websocket open %s, open-to-first-byte %s, open-to-shell-answer %s",
		opened.Round(time.Millisecond), con.first.Sub(start).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	t.Run("token is single-use", func(t *testing.T) {
		_, resp, err := dialSerial(ctx, rc.URL)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("reusing a token: %v (%v), want 401", err, resp)
		}
	})
	t.Run("expired token is refused", func(t *testing.T) {
		rc, err := remoteconsoles.Create(ctx, cc, id, remoteconsoles.CreateOpts{Protocol: remoteconsoles.ConsoleProtocolSerial,
			Type: remoteconsoles.ConsoleTypeSerial}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		// Ten minutes pass, in the cloud's own database.
		gdb, err := db.Open(ctx, fmt.Sprintf("host=%s user=kumo dbname=kumo sslmode=disable", filepath.Join(c.StateDir, "postgres", "run")), nil)
		if err != nil {
			t.Fatal(err)
		}
		if sqlDB, err := gdb.DB(); err == nil {
			defer sqlDB.Close()
		}
		res := gdb.Exec("UPDATE console_auth_tokens SET expires = now() - interval '1 second' WHERE instance_uuid = ?", id)
		if res.Error != nil || res.RowsAffected != 1 {
			t.Fatalf("expire the token: %v (%d rows)", res.Error, res.RowsAffected)
		}
		_, resp, err := dialSerial(ctx, rc.URL)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("expired token: %v (%v), want 401", err, resp)
		}
	})
	t.Run("bogus and missing tokens are refused", func(t *testing.T) {
		for _, url := range []string{wantPrefix + "not-a-token", wantPrefix, strings.TrimSuffix(wantPrefix, "?token=")} {
			_, resp, err := dialSerial(ctx, url)
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: %v (%v), want 401", url, err, resp)
			}
		}
		// The websocket needs no Keystone token and takes none in place of
		// a console token.
		code, _, _ := rawCompute(t, "GET", c.URL+"/compute/console/serial/?token=x", pc.Token(), map[string]string{"Upgrade": "websocket", "Connection": "Upgrade"}, nil)
		if code != http.StatusUnauthorized {
			t.Errorf("keystone token instead of console token: %d, want 401", code)
		}
	})
	t.Run("legacy action and microversions", func(t *testing.T) {
		code, _, body := rawCompute(t, "POST", serverURL+"/action", pc.Token(), at("2.1"),
			map[string]any{"os-getSerialConsole": map[string]any{"type": "serial"}})
		cons, _ := body["console"].(map[string]any)
		if url, _ := cons["url"].(string); code != 200 || cons["type"] != "serial" || !strings.HasPrefix(url, wantPrefix) {
			t.Errorf("os-getSerialConsole at 2.1: %d %v", code, body)
		}
		if code, _, body := rawCompute(t, "POST", serverURL+"/action", pc.Token(), at("2.6"),
			map[string]any{"os-getSerialConsole": map[string]any{"type": "serial"}}); code != 404 {
			t.Errorf("os-getSerialConsole at 2.6: %d %v, want 404", code, body)
		}
		if code, _, body := rawCompute(t, "POST", serverURL+"/remote-consoles", pc.Token(), at("2.5"),
			map[string]any{"remote_console": map[string]any{"protocol": "serial", "type": "serial"}}); code != 404 {
			t.Errorf("remote-consoles at 2.5: %d %v, want 404", code, body)
		}
		for _, bad := range []map[string]any{
			{"protocol": "telnet", "type": "serial"},
			{"protocol": "vnc", "type": "novnc"},
			{"protocol": "serial", "type": "novnc"},
			{"protocol": "serial"},
			{"protocol": "serial", "type": "serial", "extra": 1},
			{"protocol": "mks", "type": "webmks"}, // mks is 2.8+
		} {
			code, _, body := rawCompute(t, "POST", serverURL+"/remote-consoles", pc.Token(), at("2.6"), map[string]any{"remote_console": bad})
			if _, ok := body["badRequest"]; code != 400 || !ok {
				t.Errorf("remote console %v: %d %v, want 400 badRequest", bad, code, body)
			}
		}
	})
	t.Run("another project cannot get a console", func(t *testing.T) {
		m := newMember(t, c.Identity(t, pc))
		mc := compute(t, c.Client(t, m.authOpts(c, m.Project.ID)), "2.6")
		_, err := remoteconsoles.Create(ctx, mc, id, remoteconsoles.CreateOpts{Protocol: remoteconsoles.ConsoleProtocolSerial,
			Type: remoteconsoles.ConsoleTypeSerial}).Extract()
		if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("another project's console: %v, want 404", err)
		}
	})

	// A fresh session is open while the server stops: the agent ends it.
	rc2, err := remoteconsoles.Create(ctx, cc, id, remoteconsoles.CreateOpts{Protocol: remoteconsoles.ConsoleProtocolSerial,
		Type: remoteconsoles.ConsoleTypeSerial}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	con2, _, err := dialSerial(ctx, rc2.URL)
	if err != nil {
		t.Fatalf("second console: %v", err)
	}
	// The newer session replaced the first one.
	select {
	case <-con.err:
	case <-time.After(30 * time.Second):
		t.Errorf("the first console stayed open after a newer one attached")
	}
	if err := servers.Stop(ctx, cc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, cc, id, "SHUTOFF", 2*time.Minute)
	select {
	case err := <-con2.err:
		t.Logf("console closed on stop: %v", err)
	case <-time.After(time.Minute):
		t.Errorf("the console stayed open after the server stopped")
	}
	_, err = remoteconsoles.Create(ctx, cc, id, remoteconsoles.CreateOpts{Protocol: remoteconsoles.ConsoleProtocolSerial,
		Type: remoteconsoles.ConsoleTypeSerial}).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Errorf("console of a stopped server: %v, want 409", err)
	}
	// The legacy action answers the same.
	code, _, _ := rawCompute(t, "POST", serverURL+"/action", pc.Token(), at("2.1"),
		map[string]any{"os-getSerialConsole": map[string]any{"type": "serial"}})
	if code != http.StatusConflict {
		t.Errorf("os-getSerialConsole of a stopped server: %d, want 409", code)
	}
}
