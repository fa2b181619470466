package novaapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
)

// Remote consoles: POST /servers/{id}/remote-consoles (2.6+) and the
// legacy os-getSerialConsole action hand out a URL with a console token;
// the websocket at SerialProxyPath (kumo's nova-serialproxy) takes the
// token, and only the token, and bridges the connection to the serial port
// of the server's domain through the host's compute agent.
const (
	// SerialProxyPath is where the serial console websocket is served,
	// under Prefix.
	SerialProxyPath = "/console/serial/"
	// ConsoleTokenTTL is how long a console URL stays usable (Nova's
	// [consoleauth] token_ttl); a token is also consumed by its first use.
	ConsoleTokenTTL = 10 * time.Minute
	// consoleRule guards every remote console operation.
	consoleRule = "os_compute_api:os-remote-consoles"
)

// Console protocols and types Nova's schemas accept; kumo serves serial.
var (
	consoleProtocols   = []string{"vnc", "spice", "rdp", "serial"}
	consoleTypes       = []string{"novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"}
	consoleProtocols28 = append(append([]string(nil), consoleProtocols...), "mks")
	consoleTypes28     = append(append([]string(nil), consoleTypes...), "webmks")
)

// enumField reads a required string member that must be one of allowed.
func enumField(m map[string]json.RawMessage, wrapper, key string, allowed []string) (string, error) {
	val, ok, err := stringField(m, key, 0, 255)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", api.BadRequest("Invalid input for field/attribute %s. Value: %s. '%s' is a required property", wrapper, compact(m), key)
	}
	if !contains(allowed, val) {
		return "", api.BadRequest("Invalid input for field/attribute %s. Value: %s. '%s' is not one of ['%s']", key, val, val, strings.Join(allowed, "', '"))
	}
	return val, nil
}

func (s *Service) createRemoteConsole(c *gin.Context, v Version) (*api.Response, error) {
	protocols, types := consoleProtocols, consoleTypes
	if v.At(8) {
		protocols, types = consoleProtocols28, consoleTypes28
	}
	m, err := object(c, "remote_console", "protocol", "type")
	if err != nil {
		return nil, err
	}
	protocol, err := enumField(m, "remote_console", "protocol", protocols)
	if err != nil {
		return nil, err
	}
	typ, err := enumField(m, "remote_console", "type", types)
	if err != nil {
		return nil, err
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	url, err := s.serialConsoleURL(c, in, protocol, typ)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"remote_console": gin.H{"protocol": protocol, "type": typ, "url": url}}), nil
}

// serialConsoleAction is the os-getSerialConsole server action, which
// Nova serves up to microversion 2.5.
func (s *Service) serialConsoleAction(c *gin.Context, v Version, arg json.RawMessage) (*api.Response, error) {
	if v.At(6) {
		return nil, api.NotFound("The resource could not be found.")
	}
	if !api.Allowed(c, consoleRule, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", consoleRule)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(arg, &m); err != nil || m == nil {
		return nil, api.BadRequest("Invalid input for field/attribute os-getSerialConsole. Value: %s. %s is not of type 'object'", arg, arg)
	}
	for k := range m {
		if k != "type" {
			return nil, api.BadRequest("Invalid input for field/attribute os-getSerialConsole. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	typ, err := enumField(m, "os-getSerialConsole", "type", []string{"serial"})
	if err != nil {
		return nil, err
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	url, err := s.serialConsoleURL(c, in, "serial", typ)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"console": gin.H{"type": typ, "url": url}}), nil
}

// serialConsoleURL checks the console can be had and stores a token for it.
func (s *Service) serialConsoleURL(c *gin.Context, in store.Instance, protocol, typ string) (string, error) {
	if protocol != "serial" {
		return "", api.BadRequest("Unavailable console type %s.", typ)
	}
	if typ != "serial" {
		return "", api.BadRequest("Invalid console type %s", typ)
	}
	if in.Host == nil || *in.Host == "" || in.VMState != store.VMActive {
		return "", api.Conflict("Instance %s is not ready", in.UUID)
	}
	base := s.serialProxyBase()
	token := uuid.NewString()
	err := s.store.CreateConsoleToken(c.Request.Context(), &store.ConsoleToken{TokenHash: store.HashConsoleToken(token),
		ConsoleType: typ, Host: *in.Host, InstanceUUID: in.UUID, AccessURLBase: base, Expires: time.Now().Add(ConsoleTokenTTL)})
	if err != nil {
		return "", err
	}
	return base + "?token=" + token, nil
}

// serialProxyBase is the websocket URL of the serial proxy: the public URL
// with ws or wss for http or https.
func (s *Service) serialProxyBase() string {
	base := strings.TrimRight(s.cfg.PublicURL, "/")
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base + Prefix + SerialProxyPath
}

// serialProxy is the websocket end of a serial console. Like
// nova-serialproxy it authenticates with the console token alone: the
// token is consumed, the host's agent attaches to the serial port, and
// bytes are relayed both ways until either side closes.
func (s *Service) serialProxy(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	if !strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
		return nil, api.BadRequest("The serial console is a websocket: connect with a websocket client.")
	}
	token := c.Query("token")
	if token == "" {
		return nil, api.Unauthorized("The token is invalid or has expired.")
	}
	tok, err := s.store.ConsumeConsoleToken(ctx, store.HashConsoleToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.Unauthorized("The token is invalid or has expired.")
	}
	if err != nil {
		return nil, err
	}
	in, err := s.store.GetInstance(ctx, tok.InstanceUUID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Instance %s could not be found.", tok.InstanceUUID)
	}
	if err != nil {
		return nil, err
	}
	if in.Host == nil || *in.Host != tok.Host || in.VMState != store.VMActive {
		return nil, api.Conflict("Instance %s is not ready", in.UUID)
	}
	if s.bus == nil {
		return nil, api.Unavailable("the bus is not connected")
	}
	nc := s.bus.Conn()
	session := nuid.Next()
	out := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(work.SerialOutSubject(tok.Host, session), out)
	if err != nil {
		return nil, api.Unavailable("Could not open the serial console: %v", err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // best effort on the way out
	rc, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, err = bus.Request[work.SerialOpen, work.SerialOpened](rc, s.bus, work.SerialOpenSubject(tok.Host),
		work.SerialOpen{InstanceUUID: in.UUID, Session: session})
	cancel()
	switch {
	case bus.HasCode(err, bus.CodeConflict):
		return nil, api.Conflict("Instance %s is not ready", in.UUID)
	case bus.HasCode(err, bus.CodeNotFound):
		return nil, api.NotFound("Instance %s could not be found.", in.UUID)
	case err != nil:
		return nil, api.Unavailable("Could not open the serial console: %v", err)
	}
	in2 := work.SerialInSubject(tok.Host, session)
	ws, err := websocket.Accept(c.Writer, c.Request, &websocket.AcceptOptions{Subprotocols: []string{"binary"}})
	if err != nil {
		closeSerial(nc, in2, "websocket handshake failed")
		return api.Hijacked(), nil // Accept answered the client
	}
	s.log.Info("serial console connected", "server_id", in.UUID, "host", tok.Host, "session", session)
	reason := relaySerial(ctx, ws, nc, in2, out)
	s.log.Info("serial console disconnected", "server_id", in.UUID, "session", session, "reason", reason)
	return api.Hijacked(), nil
}

// closeSerial tells the agent a session is over.
func closeSerial(nc *nats.Conn, subject, reason string) {
	msg := nats.NewMsg(subject)
	msg.Header.Set(work.SerialHeaderClose, reason)
	_ = nc.PublishMsg(msg)
}

// relaySerial copies websocket messages to the agent and the agent's
// output to the websocket until one side ends; it returns why.
func relaySerial(ctx context.Context, ws *websocket.Conn, nc *nats.Conn, in string, out <-chan *nats.Msg) string {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(chan string, 2)
	go func() {
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				closeSerial(nc, in, "websocket closed")
				ended <- "websocket closed: " + err.Error()
				return
			}
			if len(data) > 0 {
				if err := nc.Publish(in, data); err != nil {
					closeSerial(nc, in, "publish failed")
					ended <- "publish: " + err.Error()
					return
				}
			}
		}
	}()
	tick := time.NewTicker(work.SerialKeepalive)
	defer tick.Stop()
	heard := time.Now()
	for {
		select {
		case why := <-ended:
			ws.CloseNow()
			return why
		case m := <-out:
			heard = time.Now()
			if why := m.Header.Get(work.SerialHeaderClose); why != "" {
				ws.Close(websocket.StatusNormalClosure, truncate(why, 120))
				return "agent: " + why
			}
			if len(m.Data) == 0 {
				continue
			}
			wctx, wcancel := context.WithTimeout(ctx, work.SerialIdleTimeout)
			err := ws.Write(wctx, websocket.MessageBinary, m.Data)
			wcancel()
			if err != nil {
				closeSerial(nc, in, "websocket write failed")
				ws.CloseNow()
				return "websocket write: " + err.Error()
			}
		case <-tick.C:
			if time.Since(heard) > work.SerialIdleTimeout {
				closeSerial(nc, in, "agent silent")
				ws.Close(websocket.StatusGoingAway, "the compute host stopped answering")
				return "agent silent"
			}
			_ = nc.Publish(in, nil)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// serialProxyRoute is the websocket route; it names no policy rule
// because the console token is its only credential.
func (s *Service) serialProxyRoute() api.Route {
	return api.Route{Method: http.MethodGet, Path: SerialProxyPath, Handler: s.serialProxy}
}
