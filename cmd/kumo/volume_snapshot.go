package main

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/spf13/cobra"
)

// findSnapshot resolves a snapshot id, or a name that exactly one of the
// project's snapshots has.
func (s *session) findSnapshot(vc *gophercloud.ServiceClient, ref string) (*snapshots.Snapshot, error) {
	snap, err := snapshots.Get(s.ctx, vc, ref).Extract()
	if err == nil {
		return snap, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	pages, err := snapshots.List(vc, snapshots.ListOpts{Name: ref}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := snapshots.ExtractSnapshots(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "snapshot", ref)
}

// waitSnapshot waits until snapshot id has one of the statuses (or is gone).
func waitSnapshot(ctx context.Context, vc *gophercloud.ServiceClient, id string, want ...string) error {
	return waitStatus(ctx, "snapshot "+id, func(ctx context.Context) (string, error) {
		snap, err := snapshots.Get(ctx, vc, id).Extract()
		if err != nil {
			return "", err
		}
		return snap.Status, nil
	}, want...)
}

func snapshotFields(s *snapshots.Snapshot) []field {
	return []field{{"id", s.ID}, {"name", s.Name}, {"status", s.Status}, {"size", s.Size},
		{"volume_id", s.VolumeID}, {"description", s.Description}, {"metadata", s.Metadata},
		{"created", timeValue(s.CreatedAt)}}
}

func snapshotCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "Manage volume snapshots"}

	var volume, description string
	var force bool
	var w waitFlags
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Snapshot a volume (--force for one in use)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			v, err := s.findVolume(vc, volume)
			if err != nil {
				return err
			}
			snap, err := snapshots.Create(s.ctx, vc, snapshots.CreateOpts{VolumeID: v.ID, Name: args[0],
				Description: description, Force: force}).Extract()
			if err != nil {
				return err
			}
			if w.wait {
				ctx, cancel := w.context(cmd)
				defer cancel()
				if err := waitSnapshot(ctx, vc, snap.ID, "available"); err != nil {
					return err
				}
				if snap, err = snapshots.Get(s.ctx, vc, snap.ID).Extract(); err != nil {
					return err
				}
			}
			return printObject(cmd, snapshotFields(snap))
		},
	}
	create.Flags().StringVar(&volume, "volume", "", "volume to snapshot (name or id)")
	create.Flags().StringVar(&description, "description", "", "description")
	create.Flags().BoolVar(&force, "force", false, "snapshot a volume that is attached")
	_ = create.MarkFlagRequired("volume")
	w.add(create, "the snapshot is available")

	list := &cobra.Command{
		Use:   "list",
		Short: "List volume snapshots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			pages, err := snapshots.List(vc, snapshots.ListOpts{}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := snapshots.ExtractSnapshots(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, sn := range all {
				rows = append(rows, []any{sn.ID, sn.Name, sn.Status, sn.Size, sn.VolumeID})
			}
			return printList(cmd, []string{"id", "name", "status", "size", "volume_id"}, rows)
		},
	}

	show := &cobra.Command{
		Use:   "show SNAPSHOT",
		Short: "Show a snapshot (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			snap, err := s.findSnapshot(vc, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, snapshotFields(snap))
		},
	}

	del := blockDeleteCommand("SNAPSHOT", "snapshots",
		func(s *session, vc *gophercloud.ServiceClient, ref string) (string, error) {
			snap, err := s.findSnapshot(vc, ref)
			if err != nil {
				return "", err
			}
			return snap.ID, snapshots.Delete(s.ctx, vc, snap.ID).ExtractErr()
		}, waitSnapshot)

	cmd.AddCommand(create, list, show, del)
	return cmd
}
