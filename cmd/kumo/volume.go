package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/spf13/cobra"
)

// volumeSession connects and returns a block-storage v3 client.
func volumeSession(cmd *cobra.Command) (*session, *gophercloud.ServiceClient, error) {
	s, err := connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	vc, err := openstack.NewBlockStorageV3(s.provider, gophercloud.EndpointOpts{})
	if err != nil {
		return nil, nil, err
	}
	return s, vc, nil
}

// findVolume resolves a volume id, or a name that exactly one of the
// project's volumes has.
func (s *session) findVolume(vc *gophercloud.ServiceClient, ref string) (*volumes.Volume, error) {
	v, err := volumes.Get(s.ctx, vc, ref).Extract()
	if err == nil {
		return v, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	pages, err := volumes.List(vc, volumes.ListOpts{Name: ref}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := volumes.ExtractVolumes(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "volume", ref)
}

// waitStatus polls get until the resource's status is one of want; a
// status starting with "error" fails. With no want it waits until get
// answers 404.
func waitStatus(ctx context.Context, what string, get func(context.Context) (string, error), want ...string) error {
	status := ""
	for {
		st, err := get(ctx)
		switch {
		case len(want) == 0 && isNotFound(err):
			return nil
		case err != nil && ctx.Err() == nil && !isNotFound(err):
			// A failed poll is retried until the deadline.
		case err != nil:
			return fmt.Errorf("%s: %w", what, err)
		case strings.HasPrefix(st, "error") && !contains(want, st):
			return fmt.Errorf("%s went to %s", what, st)
		case contains(want, st):
			return nil
		default:
			status = st
		}
		select {
		case <-ctx.Done():
			target := strings.Join(want, " or ")
			if target == "" {
				target = "deleted"
			}
			return fmt.Errorf("%s is %s, not %s, after waiting: %w", what, status, target, ctx.Err())
		case <-time.After(waitPoll):
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// waitVolume waits until volume id has one of the statuses (or is gone).
func waitVolume(ctx context.Context, vc *gophercloud.ServiceClient, id string, want ...string) error {
	return waitStatus(ctx, "volume "+id, func(ctx context.Context) (string, error) {
		v, err := volumes.Get(ctx, vc, id).Extract()
		if err != nil {
			return "", err
		}
		return v.Status, nil
	}, want...)
}

func volumeFields(v *volumes.Volume) []field {
	var servers []string
	for _, a := range v.Attachments {
		servers = append(servers, fmt.Sprintf("%s on %s", a.ServerID, a.Device))
	}
	return []field{{"id", v.ID}, {"name", v.Name}, {"status", v.Status}, {"size", v.Size},
		{"bootable", v.Bootable}, {"volume_type", v.VolumeType}, {"availability_zone", v.AvailabilityZone},
		{"attachments", servers}, {"snapshot_id", v.SnapshotID}, {"source_volid", v.SourceVolID},
		{"description", v.Description}, {"metadata", v.Metadata}, {"project_id", v.TenantID},
		{"created", timeValue(v.CreatedAt)}, {"updated", timeValue(v.UpdatedAt)}}
}

func volumeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage block-storage volumes"}
	cmd.AddCommand(volumeCreateCommand(), volumeListCommand(), volumeShowCommand(), volumeSetCommand(),
		volumeDeleteCommand(), snapshotCommand())
	return cmd
}

func volumeCreateCommand() *cobra.Command {
	var size int
	var image, snapshot, source, volType, zone, description string
	var bootable bool
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a volume: empty, or from an image, a snapshot or another volume",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			opts := volumes.CreateOpts{Name: args[0], Size: size, VolumeType: volType,
				AvailabilityZone: zone, Description: description}
			if image != "" {
				_, ic, err := imageSession(cmd)
				if err != nil {
					return err
				}
				img, err := s.findImage(ic, image)
				if err != nil {
					return err
				}
				opts.ImageID = img.ID
			}
			if snapshot != "" {
				snap, err := s.findSnapshot(vc, snapshot)
				if err != nil {
					return err
				}
				opts.SnapshotID = snap.ID
			}
			if source != "" {
				src, err := s.findVolume(vc, source)
				if err != nil {
					return err
				}
				opts.SourceVolID = src.ID
			}
			v, err := volumes.Create(s.ctx, vc, opts, nil).Extract()
			if err != nil {
				return err
			}
			if w.wait || bootable {
				ctx, cancel := w.context(cmd)
				defer cancel()
				if err := waitVolume(ctx, vc, v.ID, "available"); err != nil {
					return err
				}
			}
			if bootable {
				if err := volumes.SetBootable(s.ctx, vc, v.ID, volumes.BootableOpts{Bootable: true}).ExtractErr(); err != nil {
					return err
				}
			}
			if v, err = volumes.Get(s.ctx, vc, v.ID).Extract(); err != nil {
				return err
			}
			return printObject(cmd, volumeFields(v))
		},
	}
	cmd.Flags().IntVar(&size, "size", 0, "size in GiB (default: the snapshot's or source volume's)")
	cmd.Flags().StringVar(&image, "image", "", "image to copy into the volume (name or id)")
	cmd.Flags().StringVar(&snapshot, "snapshot", "", "snapshot to create the volume from (name or id)")
	cmd.Flags().StringVar(&source, "source", "", "volume to clone (name or id)")
	cmd.Flags().StringVar(&volType, "type", "", "volume type")
	cmd.Flags().StringVar(&zone, "availability-zone", "", "availability zone")
	cmd.Flags().StringVar(&description, "description", "", "description")
	cmd.Flags().BoolVar(&bootable, "bootable", false, "mark the volume bootable (waits until it is available)")
	cmd.MarkFlagsMutuallyExclusive("image", "snapshot", "source")
	w.add(cmd, "the volume is available")
	return cmd
}

func volumeListCommand() *cobra.Command {
	var all bool
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			pages, err := volumes.List(vc, volumes.ListOpts{AllTenants: all, Status: status}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := volumes.ExtractVolumes(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, v := range all {
				var on []string
				for _, a := range v.Attachments {
					on = append(on, a.ServerID)
				}
				rows = append(rows, []any{v.ID, v.Name, v.Status, v.Size, v.Bootable, strings.Join(on, ",")})
			}
			return printList(cmd, []string{"id", "name", "status", "size", "bootable", "attached_to"}, rows)
		},
	}
	cmd.Flags().BoolVar(&all, "all-projects", false, "every project's volumes (admin)")
	cmd.Flags().StringVar(&status, "status", "", "only volumes with this status")
	return cmd
}

func volumeShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show VOLUME",
		Short: "Show a volume (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			v, err := s.findVolume(vc, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, volumeFields(v))
		},
	}
}

func volumeSetCommand() *cobra.Command {
	var name, description string
	var size int
	var bootable, notBootable bool
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "set VOLUME",
		Short: "Rename, describe, extend (--size) or mark a volume (non-)bootable",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			v, err := s.findVolume(vc, args[0])
			if err != nil {
				return err
			}
			var upd volumes.UpdateOpts
			if cmd.Flags().Changed("name") {
				upd.Name = &name
			}
			if cmd.Flags().Changed("description") {
				upd.Description = &description
			}
			if upd.Name != nil || upd.Description != nil {
				if _, err := volumes.Update(s.ctx, vc, v.ID, upd).Extract(); err != nil {
					return err
				}
			}
			if bootable || notBootable {
				if err := volumes.SetBootable(s.ctx, vc, v.ID, volumes.BootableOpts{Bootable: bootable}).ExtractErr(); err != nil {
					return err
				}
			}
			if size > 0 {
				if err := volumes.ExtendSize(s.ctx, vc, v.ID, volumes.ExtendSizeOpts{NewSize: size}).ExtractErr(); err != nil {
					return err
				}
				if w.wait {
					ctx, cancel := w.context(cmd)
					defer cancel()
					if err := waitVolume(ctx, vc, v.ID, "available", "in-use"); err != nil {
						return err
					}
				}
			}
			if v, err = volumes.Get(s.ctx, vc, v.ID).Extract(); err != nil {
				return err
			}
			return printObject(cmd, volumeFields(v))
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new name")
	cmd.Flags().StringVar(&description, "description", "", "new description")
	cmd.Flags().IntVar(&size, "size", 0, "extend the volume to this size in GiB")
	cmd.Flags().BoolVar(&bootable, "bootable", false, "mark the volume bootable")
	cmd.Flags().BoolVar(&notBootable, "non-bootable", false, "mark the volume not bootable")
	cmd.MarkFlagsMutuallyExclusive("bootable", "non-bootable")
	w.add(cmd, "the extend has finished")
	return cmd
}

func volumeDeleteCommand() *cobra.Command {
	return blockDeleteCommand("VOLUME", "volumes",
		func(s *session, vc *gophercloud.ServiceClient, ref string) (string, error) {
			v, err := s.findVolume(vc, ref)
			if err != nil {
				return "", err
			}
			return v.ID, volumes.Delete(s.ctx, vc, v.ID, volumes.DeleteOpts{}).ExtractErr()
		}, waitVolume)
}

// blockDeleteCommand is "delete NOUN..." for block-storage objects: del
// finds each by name or id and deletes it, returning its id, and --wait
// waits (with wait and no status) until every one is gone.
func blockDeleteCommand(noun, plural string, del func(s *session, vc *gophercloud.ServiceClient, ref string) (string, error),
	wait func(ctx context.Context, vc *gophercloud.ServiceClient, id string, want ...string) error) *cobra.Command {
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "delete " + noun + "...",
		Short: "Delete " + plural + " (names or ids)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			var ids []string
			for _, ref := range args {
				id, err := del(s, vc, ref)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			if !w.wait {
				return nil
			}
			ctx, cancel := w.context(cmd)
			defer cancel()
			for _, id := range ids {
				if err := wait(ctx, vc, id); err != nil {
					return err
				}
			}
			return nil
		},
	}
	w.add(cmd, "the "+plural+" are gone")
	return cmd
}
