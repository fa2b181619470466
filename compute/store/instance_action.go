package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Results of an instance action event, as Nova records them.
const (
	EventSuccess = "Success"
	EventError   = "Error"
)

// InstanceActionEvent is a row of instance_action_events: one step a
// compute host ran for an action.
type InstanceActionEvent struct {
	ID         int64 `gorm:"primaryKey"`
	ActionID   int64
	Event      string
	StartTime  time.Time
	FinishTime *time.Time
	Result     *string
	Traceback  *string
	Host       *string
	Details    *string
}

// TableName implements gorm's tabler.
func (InstanceActionEvent) TableName() string { return "instance_action_events" }

// ActionFilter pages an instance's actions (microversion 2.58).
type ActionFilter struct {
	ChangesSince  *time.Time
	ChangesBefore *time.Time
	// Marker is a request ID; Limit 0 is no limit.
	Marker string
	Limit  int
}

// ListInstanceActions returns the actions of an instance (deleted or not),
// newest first.
func (s *Store) ListInstanceActions(ctx context.Context, instance string, f ActionFilter) ([]InstanceAction, error) {
	q := s.q(ctx).Where("instance_uuid = ?", instance)
	if f.ChangesSince != nil {
		q = q.Where("COALESCE(updated_at, start_time) >= ?", *f.ChangesSince)
	}
	if f.ChangesBefore != nil {
		q = q.Where("COALESCE(updated_at, start_time) <= ?", *f.ChangesBefore)
	}
	if f.Marker != "" {
		var m InstanceAction
		if err := s.q(ctx).Where("instance_uuid = ? AND request_id = ?", instance, f.Marker).Order("id DESC").Take(&m).Error; err != nil {
			return nil, errMarker(f.Marker)
		}
		q = q.Where("(start_time, id) < (?, ?)", m.StartTime, m.ID)
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	out := []InstanceAction{}
	err := q.Order("start_time DESC, id DESC").Find(&out).Error
	return out, db.Wrap(err, "list instance actions")
}

// GetInstanceAction returns the latest action of the instance with that
// request ID and its events, oldest first.
func (s *Store) GetInstanceAction(ctx context.Context, instance, requestID string) (InstanceAction, []InstanceActionEvent, error) {
	var a InstanceAction
	err := s.q(ctx).Where("instance_uuid = ? AND request_id = ?", instance, requestID).Order("id DESC").Take(&a).Error
	if err != nil {
		return a, nil, db.Wrap(err, "instance action "+requestID)
	}
	evs := []InstanceActionEvent{}
	err = s.q(ctx).Where("action_id = ?", a.ID).Order("start_time, id").Find(&evs).Error
	return a, evs, db.Wrap(err, "instance action events")
}

// actionOf finds the action an event belongs to: the one with requestID,
// or the instance's latest when requestID is "".
func (s *Store) actionOf(ctx context.Context, instance, requestID string) (InstanceAction, error) {
	var a InstanceAction
	q := s.q(ctx).Where("instance_uuid = ?", instance)
	if requestID != "" {
		q = q.Where("request_id = ?", requestID)
	}
	err := q.Order("id DESC").Take(&a).Error
	return a, db.Wrap(err, "instance action of "+instance)
}

// StartActionEvent records that host started event (Nova's names, such as
// compute__do_build_and_run_instance) for the action with requestID, or
// for the instance's latest action when requestID is "". It returns the
// event's ID for FinishActionEvent.
func (s *Store) StartActionEvent(ctx context.Context, instance, requestID, event, host string) (int64, error) {
	a, err := s.actionOf(ctx, instance, requestID)
	if err != nil {
		return 0, err
	}
	t := now()
	ev := InstanceActionEvent{ActionID: a.ID, Event: event, StartTime: t, Host: &host}
	if err := s.q(ctx).Create(&ev).Error; err != nil {
		return 0, db.Wrap(err, "instance action event")
	}
	return ev.ID, db.Wrap(s.q(ctx).Model(&InstanceAction{}).Where("id = ?", a.ID).Update("updated_at", t).Error, "instance action")
}

// FinishActionEvent records the outcome of the event started as id: a nil
// cause is Success; otherwise the result is Error with cause as traceback,
// and the action's message becomes "Error", as Nova records failures.
func (s *Store) FinishActionEvent(ctx context.Context, id int64, cause error) error {
	if id == 0 {
		return errors.New("finish instance action event: no event")
	}
	t := now()
	cols := map[string]any{"finish_time": t, "result": EventSuccess}
	var msg *string // the action's message stays unless the event failed
	if cause != nil {
		cols["result"], cols["traceback"] = EventError, fmt.Sprintf("%v", cause)
		failed := EventError
		msg = &failed
	}
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Model(&InstanceActionEvent{}).Where("id = ?", id).Updates(cols).Error; err != nil {
			return db.Wrap(err, "instance action event")
		}
		return db.Wrap(tx.q(ctx).Exec(`UPDATE instance_actions SET updated_at = ?, message = COALESCE(?, message)
			WHERE id = (SELECT action_id FROM instance_action_events WHERE id = ?)`, t, msg, id).Error, "instance action")
	})
}
