package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-cloud/kumo/internal/bus"
)

// Revocation events are ordinary kumo events on the events stream.
const (
	// EventService, EventResource and EventAction name revocation events.
	EventService, EventResource, EventAction = "identity", "token", "revoked"
	// SubjRevoked is the subject revocation events are published on.
	SubjRevoked = "kumo.events.identity.token.revoked"
)

// replayCheckInterval is how often Follow rereads the stream's last
// sequence while waiting for the replay, in case messages aged out.
const replayCheckInterval = 250 * time.Millisecond

// PublishRevocation stores r on the events stream, creating the stream if
// needed, so that every service following it applies r.
func PublishRevocation(ctx context.Context, b *bus.Bus, r Revocation) error {
	if err := r.Validate(); err != nil {
		return err
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("token: publish revocation: %w", err)
	}
	if _, err := bus.EnsureEventsStream(ctx, b); err != nil {
		return fmt.Errorf("token: publish revocation: %w", err)
	}
	ev := bus.Event{
		Service:    EventService,
		Resource:   EventResource,
		Action:     EventAction,
		ResourceID: r.Kind,
		ProjectID:  r.ProjectID,
		Payload:    payload,
	}
	if err := bus.PublishEvent(ctx, b, ev); err != nil {
		return fmt.Errorf("token: publish revocation: %w", err)
	}
	return nil
}

// Follow applies to list every revocation event stored on the events
// stream, then every new one as it arrives. It returns once the events
// stored when it was called have been applied, so a service that starts is
// consistent before it validates its first token. Following ends when ctx
// is done or stop is called; stop waits for the follower to finish.
func Follow(ctx context.Context, b *bus.Bus, list *RevocationList, log *slog.Logger) (stop func(), err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "token_revocations", "subject", SubjRevoked)
	stream, err := bus.EnsureEventsStream(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("token: follow revocations: %w", err)
	}
	target, err := lastSeq(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("token: follow revocations: %w", err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{SubjRevoked},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("token: follow revocations: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("token: follow revocations: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	progress := make(chan struct{}, 1)
	var applied atomic.Uint64 // stream sequence of the last event applied
	var endErr error          // why the follower ended; read after done
	go func() {
		defer close(done)
		defer it.Stop()
		for {
			msg, err := it.Next(jetstream.NextContext(runCtx))
			if err != nil {
				endErr = err
				if runCtx.Err() == nil {
					log.Error("revocation follower ended", "error", err)
				}
				return
			}
			apply(list, msg, log)
			if md, err := msg.Metadata(); err == nil {
				applied.Store(md.Sequence.Stream)
			}
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	stop = func() {
		cancel()
		<-done
	}

	start := time.Now()
	tick := time.NewTicker(replayCheckInterval)
	defer tick.Stop()
	for applied.Load() < target {
		select {
		case <-progress:
		case <-done:
			stop()
			return nil, fmt.Errorf("token: follow revocations: follower ended during replay: %w", endErr)
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("token: follow revocations: replay: %w", ctx.Err())
		case <-tick.C:
			// The last event may have aged out of the stream since we
			// looked; wait only for what is still there.
			if target, err = lastSeq(ctx, stream); err != nil {
				stop()
				return nil, fmt.Errorf("token: follow revocations: %w", err)
			}
		}
	}
	log.Info("revocations replayed", "entries", list.Len(), "last_seq", target, "took", time.Since(start))
	return stop, nil
}

// lastSeq returns the stream sequence of the last revocation event, or 0
// if there is none.
func lastSeq(ctx context.Context, stream jetstream.Stream) (uint64, error) {
	m, err := stream.GetLastMsgForSubject(ctx, SubjRevoked)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// apply adds the revocation carried by msg to list, skipping malformed and
// already expired ones.
func apply(list *RevocationList, msg jetstream.Msg, log *slog.Logger) {
	var ev bus.Event
	var r Revocation
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		log.Warn("skipping malformed revocation event", "error", err)
		return
	}
	if err := json.Unmarshal(ev.Payload, &r); err != nil {
		log.Warn("skipping malformed revocation", "event_id", ev.ID, "error", err)
		return
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(time.Now()) {
		return // no token it matches can still be valid
	}
	if err := list.Add(r); err != nil {
		log.Warn("skipping invalid revocation", "event_id", ev.ID, "error", err)
	}
}
