package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

type greetRequest struct {
	Name string `json:"name"`
}

type greetReply struct {
	Greeting string `json:"greeting"`
}

// greet is the test service's handler; some names trigger failures.
func greet(ctx context.Context, req greetRequest) (greetReply, error) {
	switch req.Name {
	case "":
		return greetReply{}, bus.Errorf(bus.CodeBadRequest, "name is required")
	case "ghost":
		return greetReply{}, fmt.Errorf("lookup: %w", bus.Errorf(bus.CodeNotFound, "no such person %q", req.Name))
	case "boom":
		return greetReply{}, errors.New("database exploded")
	case "panic":
		panic("handler bug")
	case "slow":
		<-ctx.Done()
		return greetReply{}, ctx.Err()
	}
	return greetReply{Greeting: "hello " + req.Name}, nil
}

// startGreeter serves greet on kumo.greeter.v1.greet on its own connection.
func startGreeter(t testing.TB, url string) string {
	t.Helper()
	subject := bus.RequestSubject("greeter", "greet")
	b := testutil.Connect(t, url)
	svc, err := bus.AddService(b, micro.Config{Name: "greeter", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AddEndpoint("greet", bus.Handle(greet), micro.WithEndpointSubject(subject)); err != nil {
		t.Fatal(err)
	}
	// The round trip guarantees the server has registered the endpoint
	// before other connections call it.
	if err := b.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return subject
}

func TestRequest(t *testing.T) {
	_, url := testutil.NATS(t)
	subject := startGreeter(t, url)
	b := testutil.Connect(t, url)

	tests := []struct {
		name     string
		req      greetRequest
		want     string
		wantCode string
	}{
		{name: "ok", req: greetRequest{Name: "kumo"}, want: "hello kumo"},
		{name: "bad request", req: greetRequest{}, wantCode: bus.CodeBadRequest},
		{name: "wrapped not found", req: greetRequest{Name: "ghost"}, wantCode: bus.CodeNotFound},
		{name: "plain error is internal", req: greetRequest{Name: "boom"}, wantCode: bus.CodeInternal},
		{name: "panic is internal", req: greetRequest{Name: "panic"}, wantCode: bus.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bus.Request[greetRequest, greetReply](context.Background(), b, subject, tt.req)
			if tt.wantCode != "" {
				var be *bus.Error
				if !errors.As(err, &be) {
					t.Fatalf("error = %v, want a *bus.Error", err)
				}
				if be.Code != tt.wantCode || be.Message == "" {
					t.Fatalf("error = %+v, want code %s with a message", be, tt.wantCode)
				}
				if !bus.HasCode(err, tt.wantCode) {
					t.Fatalf("HasCode(%v, %s) = false", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if got.Greeting != tt.want {
				t.Fatalf("greeting = %q, want %q", got.Greeting, tt.want)
			}
		})
	}
}

func TestRequestBadJSON(t *testing.T) {
	_, url := testutil.NATS(t)
	subject := startGreeter(t, url)
	b := testutil.Connect(t, url)

	msg, err := b.Conn().Request(subject, []byte(`{"name": `), 5*time.Second)
	if err != nil {
		t.Fatalf("raw request: %v", err)
	}
	var rep bus.Reply[greetReply]
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		t.Fatalf("reply is not an envelope: %v: %s", err, msg.Data)
	}
	if rep.Error == nil || rep.Error.Code != bus.CodeBadRequest {
		t.Fatalf("reply = %s, want a bad_request error", msg.Data)
	}
	if got := msg.Header.Get(micro.ErrorCodeHeader); got != bus.CodeBadRequest {
		t.Fatalf("%s header = %q, want %q", micro.ErrorCodeHeader, got, bus.CodeBadRequest)
	}
}

func TestRequestNoAnswer(t *testing.T) {
	_, url := testutil.NATS(t)
	subject := startGreeter(t, url)
	b := testutil.Connect(t, url)

	// A subscriber that never answers.
	silent := bus.RequestSubject("silent", "wait")
	sub, err := b.Conn().Subscribe(silent, func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := b.Conn().Flush(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		subject  string
		req      greetRequest
		wantCode string
		wantIs   error
	}{
		{name: "no responders", subject: bus.RequestSubject("nobody", "home"), wantCode: bus.CodeUnavailable},
		{name: "silent responder", subject: silent, wantIs: context.DeadlineExceeded},
		{name: "handler outlives deadline", subject: subject, req: greetRequest{Name: "slow"}, wantIs: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := bus.Request[greetRequest, greetReply](ctx, b, tt.subject, tt.req)
			if d := time.Since(start); d > time.Second {
				t.Fatalf("request took %s, want under 1s", d)
			}
			if err == nil {
				t.Fatal("request succeeded")
			}
			if tt.wantCode != "" && !bus.HasCode(err, tt.wantCode) {
				t.Fatalf("error = %v, want code %s", err, tt.wantCode)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("error = %v, want %v", err, tt.wantIs)
			}
		})
	}
}

func TestHandlerSeesCallerDeadline(t *testing.T) {
	_, url := testutil.NATS(t)
	b := testutil.Connect(t, url)
	subject := bus.RequestSubject("clock", "deadline")
	svc, err := bus.AddService(b, micro.Config{Name: "clock", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	handler := bus.Handle(func(ctx context.Context, _ struct{}) (int64, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return 0, errors.New("no deadline")
		}
		return dl.UnixNano(), nil
	})
	if err := svc.AddEndpoint("deadline", handler, micro.WithEndpointSubject(subject)); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	got, err := bus.Request[struct{}, int64](ctx, b, subject, struct{}{})
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if got != want.UnixNano() {
		t.Fatalf("handler deadline = %v, want the caller's %v", time.Unix(0, got), want)
	}
}
