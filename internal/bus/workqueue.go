package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	// DefaultMaxDeliver is how many times a work message is delivered before
	// it is terminated; the reconcile loops pick up whatever it left undone.
	DefaultMaxDeliver = 10
	// DefaultRetryDelay is the first redelivery delay after a handler error;
	// it doubles with each delivery up to maxRetryDelay.
	DefaultRetryDelay = time.Second
	// DefaultAckWait is how long the server waits for an ack before
	// redelivering; running handlers extend it automatically.
	DefaultAckWait = 30 * time.Second
	// DuplicateWindow is how long published message IDs are remembered for
	// deduplication.
	DuplicateWindow = 2 * time.Minute

	maxRetryDelay = time.Minute
	// publishTimeout bounds a publish whose context has no deadline.
	publishTimeout = 10 * time.Second
	// ackTimeout bounds waiting for the server to confirm an ack.
	ackTimeout = 5 * time.Second
	// releaseTimeout bounds each step of handing back buffered work on stop.
	releaseTimeout = 2 * time.Second
)

// EnsureStream creates the stream described by cfg or updates it to match.
func EnsureStream(ctx context.Context, b *Bus, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := b.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bus: ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// WorkQueue is a durable JetStream work-queue stream: each message is kept
// until one consumer acks it.
type WorkQueue struct {
	b      *Bus
	name   string
	stream jetstream.Stream
}

// NewWorkQueue ensures a file-backed work-queue stream called name over
// subjects and returns a handle to it.
func NewWorkQueue(ctx context.Context, b *Bus, name string, subjects []string) (*WorkQueue, error) {
	s, err := EnsureStream(ctx, b, jetstream.StreamConfig{
		Name:       name,
		Subjects:   subjects,
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: DuplicateWindow,
	})
	if err != nil {
		return nil, err
	}
	return &WorkQueue{b: b, name: name, stream: s}, nil
}

// Name returns the stream's name.
func (wq *WorkQueue) Name() string {
	return wq.name
}

// Pending returns the number of messages not yet acked.
func (wq *WorkQueue) Pending(ctx context.Context) (uint64, error) {
	info, err := wq.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: work queue %s: %w", wq.name, err)
	}
	return info.State.Msgs, nil
}

// Publish stores msg as JSON on subject and waits for the stream's ack; pass
// jetstream.WithMsgID to have the stream drop duplicates of the same ID
// within DuplicateWindow.
func Publish[T any](ctx context.Context, wq *WorkQueue, subject string, msg T, opts ...jetstream.PublishOpt) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("bus: publish %s: encode: %w", subject, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	ack, err := wq.b.js.Publish(ctx, subject, data, opts...)
	if err != nil {
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	if ack.Stream != wq.name {
		return fmt.Errorf("bus: publish %s: stored by stream %s, not work queue %s", subject, ack.Stream, wq.name)
	}
	return nil
}

// ConsumeOption tunes Consume.
type ConsumeOption func(*consumeConfig)

type consumeConfig struct {
	maxDeliver int
	retryDelay time.Duration
	ackWait    time.Duration
}

// WithMaxDeliver sets how many deliveries a message gets before it is
// terminated (DefaultMaxDeliver if unset).
func WithMaxDeliver(n int) ConsumeOption {
	return func(c *consumeConfig) { c.maxDeliver = n }
}

// WithRetryDelay sets the first redelivery delay after a handler error
// (DefaultRetryDelay if unset); it doubles per delivery up to a minute.
func WithRetryDelay(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.retryDelay = d }
}

// WithAckWait sets how long the server waits for an ack before it
// redelivers to another consumer (DefaultAckWait if unset).
func WithAckWait(d time.Duration) ConsumeOption {
	return func(c *consumeConfig) { c.ackWait = d }
}

// Consume runs handler for each message on wq matching filterSubject through
// the durable pull consumer named durable, one message at a time: success
// acks, an error naks for a delayed redelivery, a payload that does not
// decode as T is terminated. It returns once the consumer exists; the loop
// ends when ctx is cancelled or stop is called, and stop waits for the
// in-flight handler.
func Consume[T any](ctx context.Context, wq *WorkQueue, durable, filterSubject string, handler func(ctx context.Context, msg T) error, opts ...ConsumeOption) (stop func(), err error) {
	cfg := consumeConfig{maxDeliver: DefaultMaxDeliver, retryDelay: DefaultRetryDelay, ackWait: DefaultAckWait}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxDeliver < 1 || cfg.retryDelay <= 0 || cfg.ackWait <= 0 {
		return nil, fmt.Errorf("bus: consume %s: invalid options %+v", durable, cfg)
	}
	c := &consumer[T]{
		wq:      wq,
		cfg:     cfg,
		handler: handler,
		log:     wq.b.log.With("stream", wq.name, "consumer", durable),
		ccfg: jetstream.ConsumerConfig{
			Durable:       durable,
			FilterSubject: filterSubject,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.ackWait,
			MaxDeliver:    cfg.maxDeliver,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		},
	}
	it, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(runCtx, it)
	}()
	return func() {
		cancel()
		<-done
	}, nil
}

// consumer is one running Consume loop.
type consumer[T any] struct {
	wq      *WorkQueue
	cfg     consumeConfig
	ccfg    jetstream.ConsumerConfig
	handler func(context.Context, T) error
	log     *slog.Logger
}

// open creates or updates the durable consumer and starts pulling from it,
// one message at a time so queued work is not held (and its ack wait not
// burnt) in a client-side buffer.
func (c *consumer[T]) open(ctx context.Context) (jetstream.MessagesContext, error) {
	cons, err := c.wq.b.js.CreateOrUpdateConsumer(ctx, c.wq.name, c.ccfg)
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s on %s: %w", c.ccfg.Durable, c.wq.name, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s on %s: %w", c.ccfg.Durable, c.wq.name, err)
	}
	return it, nil
}

// run pulls and handles messages until ctx is done, reopening the consumer
// with backoff if the server loses it.
func (c *consumer[T]) run(ctx context.Context, it jetstream.MessagesContext) {
	for attempt := 0; ; {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err == nil {
			attempt = 0
			c.handle(ctx, msg)
			continue
		}
		if ctx.Err() != nil || c.wq.b.nc.IsClosed() {
			c.release(it)
			return
		}
		// The iterator ended on its own (consumer deleted, stream gone):
		// recreate it and carry on.
		it.Stop()
		for {
			attempt++
			c.log.Warn("work consumer interrupted, reopening", "error", err, "attempt", attempt)
			t := time.NewTimer(backoff(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			next, oerr := c.open(ctx)
			if oerr == nil {
				it = next
				break
			}
			err = oerr
		}
	}
}

// release stops pulling and hands back, for immediate redelivery, any
// message the server already sent this iterator; a message left in a
// discarded buffer would otherwise wait out its ack wait. It returns once the
// server has processed the unsubscribe and the naks.
func (c *consumer[T]) release(it jetstream.MessagesContext) {
	if c.wq.b.nc.IsClosed() {
		it.Stop()
		return
	}
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(releaseTimeout))
		if err != nil {
			break
		}
		if err := msg.Nak(); err != nil {
			c.log.Warn("hand back work message", "subject", msg.Subject(), "error", err)
		}
	}
	if cl, ok := it.(interface{ Closed() <-chan struct{} }); ok {
		t := time.NewTimer(releaseTimeout)
		defer t.Stop()
		select {
		case <-cl.Closed():
		case <-t.C:
		}
	}
	if err := c.wq.b.nc.FlushTimeout(releaseTimeout); err != nil {
		c.log.Warn("flush after stopping consumer", "error", err)
	}
}

// handle runs the handler for one message and settles it.
func (c *consumer[T]) handle(ctx context.Context, msg jetstream.Msg) {
	log := c.log.With("subject", msg.Subject())
	var delivered uint64 = 1
	if meta, err := msg.Metadata(); err == nil {
		delivered = meta.NumDelivered
		log = log.With("stream_seq", meta.Sequence.Stream, "delivery", delivered)
	}
	var v T
	if err := json.Unmarshal(msg.Data(), &v); err != nil {
		log.Error("terminating malformed work message", "error", err)
		if err := msg.TermWithReason("malformed payload"); err != nil {
			log.Error("terminate work message", "error", err)
		}
		return
	}

	stopProgress := c.keepInProgress(msg)
	err := c.call(ctx, v)
	stopProgress()

	switch {
	case err == nil:
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
		defer cancel()
		if err := msg.DoubleAck(actx); err != nil {
			log.Error("ack work message", "error", err)
		}
	case ctx.Err() != nil:
		// Shutting down: hand the message back at once for the next consumer.
		log.Info("work interrupted by shutdown, returning it", "error", err)
		if err := msg.Nak(); err != nil {
			log.Error("nak work message", "error", err)
		}
	case delivered >= uint64(c.cfg.maxDeliver):
		log.Error("work failed on its last delivery, dropping it", "error", err)
		if err := msg.TermWithReason("max deliveries reached"); err != nil {
			log.Error("terminate work message", "error", err)
		}
	default:
		delay := retryDelay(c.cfg.retryDelay, delivered)
		log.Warn("work failed, will retry", "error", err, "retry_in", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			log.Error("nak work message", "error", err)
		}
	}
}

// call runs the handler, turning a panic into an error so one bad message
// cannot take the agent down.
func (c *consumer[T]) call(ctx context.Context, v T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return c.handler(ctx, v)
}

// retryDelay doubles base for each delivery so far, capped at a minute (or
// base, if larger).
func retryDelay(base time.Duration, delivered uint64) time.Duration {
	d := base << min(delivered-1, 16)
	return min(d, max(base, maxRetryDelay))
}

// keepInProgress tells the server the message is still being worked on every
// third of the ack wait, so a long handler is not redelivered elsewhere; the
// returned func stops it and waits.
func (c *consumer[T]) keepInProgress(msg jetstream.Msg) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(c.cfg.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
					c.log.Warn("extend work ack wait", "subject", msg.Subject(), "error", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
