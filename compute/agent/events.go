package agent

import (
	"context"

	"github.com/kumo-cloud/kumo/compute/work"
)

// Nova's names of the compute events recorded under instance actions.
const (
	eventBuild     = "compute__do_build_and_run_instance"
	eventTerminate = "compute_terminate_instance"
)

// actionEvents names the event of each power action.
var actionEvents = map[string]string{
	work.ActionStop: "compute_stop_instance", work.ActionStart: "compute_start_instance",
	work.ActionRebootSoft: "compute_reboot_instance", work.ActionRebootHard: "compute_reboot_instance",
	work.ActionPause: "compute_pause_instance", work.ActionUnpause: "compute_unpause_instance",
	work.ActionSuspend: "compute_suspend_instance", work.ActionResume: "compute_resume_instance",
}

// startEvent records the start of event under the instance's latest
// action and returns its ID (0 if it could not be recorded: events are
// an audit trail and never stop the work).
func (a *Agent) startEvent(ctx context.Context, instance, event string) int64 {
	id, err := a.d.Store.StartActionEvent(ctx, instance, "", event, a.cfg.Host)
	if err != nil {
		a.log.Warn("record action event", "server_id", instance, "event", event, "error", err)
	}
	return id
}

// finishEvent records the outcome of an event startEvent recorded.
func (a *Agent) finishEvent(ctx context.Context, id int64, cause error) {
	if id == 0 {
		return
	}
	if err := a.d.Store.FinishActionEvent(context.WithoutCancel(ctx), id, cause); err != nil {
		a.log.Warn("finish action event", "event_id", id, "error", err)
	}
}
