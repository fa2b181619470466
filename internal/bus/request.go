package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

const (
	// DefaultRequestTimeout bounds a Request whose context has no deadline,
	// and a handler whose caller sent none.
	DefaultRequestTimeout = 10 * time.Second
	// HeaderDeadline carries the caller's deadline (Unix nanoseconds) so the
	// handler's context expires when the caller stops waiting.
	HeaderDeadline = "Kumo-Deadline"
)

// Reply is the envelope every bus reply is carried in: exactly one of
// Result and Error is set.
type Reply[T any] struct {
	// Result is the handler's value when it succeeded.
	Result T `json:"result,omitzero"`
	// Error is the handler's failure, if any.
	Error *Error `json:"error,omitempty"`
}

// Request sends req as JSON on subject and decodes the typed reply; a remote
// failure is returned as an *Error, no responder as CodeUnavailable, and a
// missed deadline as an error wrapping context.DeadlineExceeded.
func Request[Req, Resp any](ctx context.Context, b *Bus, subject string, req Req) (Resp, error) {
	var zero Resp
	data, err := json.Marshal(req)
	if err != nil {
		return zero, fmt.Errorf("bus: request %s: encode: %w", subject, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRequestTimeout)
		defer cancel()
	}
	dl, _ := ctx.Deadline()
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(HeaderDeadline, strconv.FormatInt(dl.UnixNano(), 10))

	resp, err := b.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return zero, Errorf(CodeUnavailable, "no service answers on %s", subject)
		}
		return zero, fmt.Errorf("bus: request %s: %w", subject, err)
	}
	var rep Reply[Resp]
	if err := json.Unmarshal(resp.Data, &rep); err != nil {
		// A plain micro error (for example from a handler not built with
		// Handle) has no envelope but carries its code in headers.
		if code := resp.Header.Get(micro.ErrorCodeHeader); code != "" {
			return zero, &Error{Code: code, Message: resp.Header.Get(micro.ErrorHeader)}
		}
		return zero, fmt.Errorf("bus: request %s: decode reply: %w", subject, err)
	}
	if rep.Error != nil {
		return zero, rep.Error
	}
	return rep.Result, nil
}

// AddService registers a nats.go/micro service on b's connection, logging
// its asynchronous errors; add endpoints with Handle, then Ping so the server
// has registered them before the service reports itself ready.
func AddService(b *Bus, cfg micro.Config) (micro.Service, error) {
	if cfg.ErrorHandler == nil {
		log := b.log.With("service", cfg.Name)
		cfg.ErrorHandler = func(_ micro.Service, err *micro.NATSError) {
			log.Error("service error", "subject", err.Subject, "error", err.Description)
		}
	}
	svc, err := micro.AddService(b.nc, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: add service %s: %w", cfg.Name, err)
	}
	return svc, nil
}

// Handle adapts a typed function to a micro.Handler: it decodes the JSON
// request (bad JSON answers CodeBadRequest), runs fn under the caller's
// deadline and replies with the result or the error in a Reply envelope.
func Handle[Req, Resp any](fn func(ctx context.Context, req Req) (Resp, error)) micro.Handler {
	return micro.HandlerFunc(func(r micro.Request) {
		ctx, cancel := handlerContext(r.Headers())
		defer cancel()

		var req Req
		if data := r.Data(); len(data) > 0 {
			if err := json.Unmarshal(data, &req); err != nil {
				respondError(r, Errorf(CodeBadRequest, "decode request: %v", err))
				return
			}
		}
		resp, err := call(ctx, fn, req)
		if err != nil {
			respondError(r, err)
			return
		}
		data, err := json.Marshal(Reply[Resp]{Result: resp})
		if err != nil {
			respondError(r, Errorf(CodeInternal, "encode reply: %v", err))
			return
		}
		_ = r.Respond(data) // the caller sees a timeout if this fails
	})
}

// call runs fn, turning a panic into an internal error so one bad request
// cannot take the service down.
func call[Req, Resp any](ctx context.Context, fn func(context.Context, Req) (Resp, error), req Req) (resp Resp, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Errorf(CodeInternal, "handler panic: %v", p)
		}
	}()
	return fn(ctx, req)
}

// handlerContext returns a context that expires at the caller's deadline,
// or after DefaultRequestTimeout if the caller sent none.
func handlerContext(h micro.Headers) (context.Context, context.CancelFunc) {
	if v := h.Get(HeaderDeadline); v != "" {
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
			return context.WithDeadline(context.Background(), time.Unix(0, ns))
		}
	}
	return context.WithTimeout(context.Background(), DefaultRequestTimeout)
}

// respondError sends err in a Reply envelope, also setting the micro error
// headers so the service's stats count it.
func respondError(r micro.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.DeadlineExceeded):
		e = Errorf(CodeTimeout, "%v", err)
	default:
		e = Errorf(CodeInternal, "%v", err)
	}
	data, _ := json.Marshal(Reply[struct{}]{Error: e}) // cannot fail: two strings
	_ = r.Error(e.Code, e.Message, data)
}
