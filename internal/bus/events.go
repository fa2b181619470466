package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// EventsMaxAge is how long the events stream keeps an event.
const EventsMaxAge = 7 * 24 * time.Hour

// Event is a state change published on kumo.events.<service>.<resource>.<action>
// for the dashboard's live updates, audit and notifications.
type Event struct {
	// ID identifies the event and deduplicates republishing; PublishEvent
	// fills it if empty.
	ID         string `json:"id"`
	Service    string `json:"service"`
	Resource   string `json:"resource"`
	Action     string `json:"action"`
	ResourceID string `json:"resource_id,omitempty"`
	ProjectID  string `json:"project_id,omitempty"`
	// Time is when the change happened; PublishEvent fills it if zero.
	Time time.Time `json:"time"`
	// Payload is the service's own description of the change.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Subject returns the subject the event is published on.
func (e Event) Subject() string {
	return EventSubject(e.Service, e.Resource, e.Action)
}

// EnsureEventsStream creates or updates the KUMO_EVENTS stream over
// kumo.events.> (limits retention, EventsMaxAge, file storage).
func EnsureEventsStream(ctx context.Context, b *Bus) (jetstream.Stream, error) {
	return EnsureStream(ctx, b, jetstream.StreamConfig{
		Name:       EventsStream,
		Subjects:   []string{EventsAll},
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     EventsMaxAge,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardOld,
		Duplicates: DuplicateWindow,
	})
}

// PublishEvent stores ev on the events stream under the subject built from
// its Service, Resource and Action, and waits for the stream's ack.
func PublishEvent(ctx context.Context, b *Bus, ev Event) error {
	for _, tok := range []string{ev.Service, ev.Resource, ev.Action} {
		if err := ValidToken(tok); err != nil {
			return fmt.Errorf("bus: publish event: %w", err)
		}
	}
	if ev.ID == "" {
		ev.ID = nuid.Next()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("bus: publish event: encode: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	if _, err := b.js.Publish(ctx, ev.Subject(), data, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("bus: publish event %s: %w", ev.Subject(), err)
	}
	return nil
}

// SubscribeEvents calls fn, in order and one at a time, for every event
// matching filter (EventsAll if empty) stored after SubscribeEvents returns.
// The subscription ends when ctx is cancelled or stop is called; stop waits
// for a running fn.
func SubscribeEvents(ctx context.Context, b *Bus, filter string, fn func(Event)) (stop func(), err error) {
	if filter == "" {
		filter = EventsAll
	}
	stream, err := b.js.Stream(ctx, EventsStream)
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe events: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe events: %w", err)
	}
	// Start right after the last stored event rather than with
	// DeliverNewPolicy, whose starting point is fixed only when the server
	// creates the consumer: events published after we return must not be
	// missed.
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    info.State.LastSeq + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe events %s: %w", filter, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe events %s: %w", filter, err)
	}
	log := b.log.With("filter", filter)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer it.Stop()
		for {
			msg, err := it.Next(jetstream.NextContext(runCtx))
			if err != nil {
				if runCtx.Err() == nil {
					log.Error("event subscription ended", "error", err)
				}
				return
			}
			var ev Event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				log.Warn("skipping malformed event", "subject", msg.Subject(), "error", err)
				continue
			}
			fn(ev)
		}
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
