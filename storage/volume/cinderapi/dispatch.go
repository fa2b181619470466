package cinderapi

import (
	"context"
	"errors"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// dispatchVolume hands volume work to a backend host's manager. The row
// holds the intent already; the manager reconciles it on restart.
func (s *Service) dispatchVolume(ctx context.Context, host string, msg work.Volume) error {
	if err := bus.Publish(context.WithoutCancel(ctx), s.queue, work.Subject(host, work.VerbVolume), msg); err != nil {
		return api.Internal(err)
	}
	return nil
}

// dispatchSnapshot hands snapshot work to a backend host's manager.
func (s *Service) dispatchSnapshot(ctx context.Context, host string, msg work.Snapshot) error {
	if err := bus.Publish(context.WithoutCancel(ctx), s.queue, work.Subject(host, work.VerbSnapshot), msg); err != nil {
		return api.Internal(err)
	}
	return nil
}

// connect asks a backend host's manager to connect (or disconnect) a host
// to a volume; the driver runs where the storage is. A manager that does
// not answer is 503 (compute retries), any other failure 500.
func (s *Service) connect(ctx context.Context, host string, req work.ConnectRequest) (work.ConnectReply, error) {
	reply, err := bus.Request[work.ConnectRequest, work.ConnectReply](ctx, s.bus, work.ConnectSubject(host), req)
	switch {
	case err == nil:
		return reply, nil
	case bus.HasCode(err, bus.CodeUnavailable), errors.Is(err, context.DeadlineExceeded):
		e := api.Unavailable("The volume manager of %s did not answer.", host)
		e.Err = err
		return reply, e
	}
	return reply, api.Internal(err)
}
