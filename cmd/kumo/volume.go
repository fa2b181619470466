package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/spf13/cobra"
)

// volumeMicroversion is the block storage microversion the CLI speaks.
const volumeMicroversion = "3.70"

func volumeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes and their snapshots"}

	list := &cobra.Command{
		Use:   "list",
		Short: "List volumes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			all, err := listVolumes(s, bs, volumes.ListOpts{})
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, v := range all {
				rows = append(rows, []any{v.ID, v.Name, v.Status, v.Size, v.VolumeType, v.Bootable, attachedTo(v)})
			}
			return printList(cmd, []string{"id", "name", "status", "size", "type", "bootable", "attached_to"}, rows)
		},
	}

	show := &cobra.Command{
		Use:   "show VOLUME",
		Short: "Show a volume (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			v, err := s.findVolume(bs, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, volumeFields(v))
		},
	}

	var size int
	var imageRef, snapshotRef, sourceRef, volType, zone, description string
	var props []string
	var wait bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a volume: empty (--size), or from --image, --snapshot or --source",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			opts := volumes.CreateOpts{Name: args[0], Size: size, VolumeType: volType, AvailabilityZone: zone, Description: description}
			if opts.Metadata, err = properties(props); err != nil {
				return err
			}
			if imageRef != "" {
				ic, err := openstack.NewImageV2(s.provider, gophercloud.EndpointOpts{})
				if err != nil {
					return err
				}
				img, err := s.findImage(ic, imageRef)
				if err != nil {
					return err
				}
				opts.ImageID = img.ID
			}
			if snapshotRef != "" {
				sn, err := s.findSnapshot(bs, snapshotRef)
				if err != nil {
					return err
				}
				opts.SnapshotID = sn.ID
			}
			if sourceRef != "" {
				src, err := s.findVolume(bs, sourceRef)
				if err != nil {
					return err
				}
				opts.SourceVolID = src.ID
			}
			v, err := volumes.Create(s.ctx, bs, opts, nil).Extract()
			if err != nil {
				return err
			}
			if wait {
				if v, err = waitVolume(s, bs, v.ID, "available"); err != nil {
					return err
				}
			}
			return printObject(cmd, volumeFields(v))
		},
	}
	create.Flags().IntVar(&size, "size", 0, "size in GiB (default: the snapshot's or source volume's)")
	create.Flags().StringVar(&imageRef, "image", "", "image to create the volume from (name or id)")
	create.Flags().StringVar(&snapshotRef, "snapshot", "", "snapshot to create the volume from (name or id)")
	create.Flags().StringVar(&sourceRef, "source", "", "volume to clone (name or id)")
	create.Flags().StringVar(&volType, "type", "", "volume type (default: __DEFAULT__)")
	create.Flags().StringVar(&zone, "availability-zone", "", "availability zone")
	create.Flags().StringVar(&description, "description", "", "description")
	create.Flags().StringArrayVar(&props, "property", nil, "metadata KEY=VALUE (repeatable)")
	create.Flags().BoolVar(&wait, "wait", false, "wait until the volume is available")

	var newSize int
	var extendWait bool
	extend := &cobra.Command{
		Use:   "extend VOLUME --size GIB",
		Short: "Grow an available volume",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			v, err := s.findVolume(bs, args[0])
			if err != nil {
				return err
			}
			if err := volumes.ExtendSize(s.ctx, bs, v.ID, volumes.ExtendSizeOpts{NewSize: newSize}).ExtractErr(); err != nil {
				return err
			}
			if extendWait {
				if v, err = waitVolume(s, bs, v.ID, "available"); err != nil {
					return err
				}
			}
			return nil
		},
	}
	extend.Flags().IntVar(&newSize, "size", 0, "new size in GiB")
	extend.Flags().BoolVar(&extendWait, "wait", false, "wait until the volume is available again")
	_ = extend.MarkFlagRequired("size")

	var cascade bool
	del := &cobra.Command{
		Use:   "delete VOLUME...",
		Short: "Delete volumes (names or ids)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				v, err := s.findVolume(bs, ref)
				if err != nil {
					return err
				}
				if err := volumes.Delete(s.ctx, bs, v.ID, volumes.DeleteOpts{Cascade: cascade}).ExtractErr(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	del.Flags().BoolVar(&cascade, "cascade", false, "delete the volumes' snapshots too")

	cmd.AddCommand(list, show, create, extend, del, snapshotCommand())
	return cmd
}

func snapshotCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "Manage volume snapshots"}

	list := &cobra.Command{
		Use:   "list",
		Short: "List snapshots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			all, err := listSnapshots(s, bs, snapshots.ListOpts{})
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
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			sn, err := s.findSnapshot(bs, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, snapshotFields(sn))
		},
	}

	var volumeRef, description string
	var force, wait bool
	create := &cobra.Command{
		Use:   "create NAME --volume VOLUME",
		Short: "Snapshot a volume (--force for an in-use one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			v, err := s.findVolume(bs, volumeRef)
			if err != nil {
				return err
			}
			sn, err := snapshots.Create(s.ctx, bs, snapshots.CreateOpts{Name: args[0], VolumeID: v.ID, Force: force, Description: description}).Extract()
			if err != nil {
				return err
			}
			if wait {
				if sn, err = waitSnapshot(s, bs, sn.ID, "available"); err != nil {
					return err
				}
			}
			return printObject(cmd, snapshotFields(sn))
		},
	}
	create.Flags().StringVar(&volumeRef, "volume", "", "volume to snapshot (name or id)")
	create.Flags().StringVar(&description, "description", "", "description")
	create.Flags().BoolVar(&force, "force", false, "snapshot an in-use volume")
	create.Flags().BoolVar(&wait, "wait", false, "wait until the snapshot is available")
	_ = create.MarkFlagRequired("volume")

	del := &cobra.Command{
		Use:   "delete SNAPSHOT...",
		Short: "Delete snapshots (names or ids)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, bs, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				sn, err := s.findSnapshot(bs, ref)
				if err != nil {
					return err
				}
				if err := snapshots.Delete(s.ctx, bs, sn.ID).ExtractErr(); err != nil {
					return err
				}
			}
			return nil
		},
	}

	cmd.AddCommand(list, show, create, del)
	return cmd
}

// volumeSession connects and returns a block storage v3 client.
func volumeSession(cmd *cobra.Command) (*session, *gophercloud.ServiceClient, error) {
	s, err := connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	bs, err := openstack.NewBlockStorageV3(s.provider, gophercloud.EndpointOpts{})
	if err != nil {
		return nil, nil, err
	}
	bs.Microversion = volumeMicroversion
	return s, bs, nil
}

func listVolumes(s *session, bs *gophercloud.ServiceClient, opts volumes.ListOpts) ([]volumes.Volume, error) {
	pages, err := volumes.List(bs, opts).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	return volumes.ExtractVolumes(pages)
}

func listSnapshots(s *session, bs *gophercloud.ServiceClient, opts snapshots.ListOpts) ([]snapshots.Snapshot, error) {
	pages, err := snapshots.ListDetail(bs, opts).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	return snapshots.ExtractSnapshots(pages)
}

// findVolume resolves a volume id, or a name that exactly one of the
// caller's volumes has.
func (s *session) findVolume(bs *gophercloud.ServiceClient, ref string) (*volumes.Volume, error) {
	v, err := volumes.Get(s.ctx, bs, ref).Extract()
	if err == nil {
		return v, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	named, err := listVolumes(s, bs, volumes.ListOpts{Name: ref})
	if err != nil {
		return nil, err
	}
	return only(named, "volume", ref)
}

// findSnapshot resolves a snapshot id, or a name that exactly one of the
// caller's snapshots has.
func (s *session) findSnapshot(bs *gophercloud.ServiceClient, ref string) (*snapshots.Snapshot, error) {
	sn, err := snapshots.Get(s.ctx, bs, ref).Extract()
	if err == nil {
		return sn, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	named, err := listSnapshots(s, bs, snapshots.ListOpts{Name: ref})
	if err != nil {
		return nil, err
	}
	return only(named, "snapshot", ref)
}

// waitVolume polls a volume until it has status want (an error status
// fails).
func waitVolume(s *session, bs *gophercloud.ServiceClient, id, want string) (*volumes.Volume, error) {
	for {
		v, err := volumes.Get(s.ctx, bs, id).Extract()
		if err != nil {
			return nil, err
		}
		if v.Status == want {
			return v, nil
		}
		if strings.HasPrefix(v.Status, "error") {
			return v, fmt.Errorf("volume %s went to %s", id, v.Status)
		}
		select {
		case <-s.ctx.Done():
			return v, fmt.Errorf("volume %s is %s, not %s: %w", id, v.Status, want, s.ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitSnapshot polls a snapshot until it has status want.
func waitSnapshot(s *session, bs *gophercloud.ServiceClient, id, want string) (*snapshots.Snapshot, error) {
	for {
		sn, err := snapshots.Get(s.ctx, bs, id).Extract()
		if err != nil {
			return nil, err
		}
		if sn.Status == want {
			return sn, nil
		}
		if strings.HasPrefix(sn.Status, "error") {
			return sn, fmt.Errorf("snapshot %s went to %s", id, sn.Status)
		}
		select {
		case <-s.ctx.Done():
			return sn, fmt.Errorf("snapshot %s is %s, not %s: %w", id, sn.Status, want, s.ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// properties parses repeated --property KEY=VALUE flags.
func properties(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--property %q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

// attachedTo lists the servers a volume is attached to.
func attachedTo(v volumes.Volume) string {
	var ids []string
	for _, a := range v.Attachments {
		ids = append(ids, a.ServerID+" on "+a.Device)
	}
	return strings.Join(ids, ", ")
}

func volumeFields(v *volumes.Volume) []field {
	return []field{{"id", v.ID}, {"name", v.Name}, {"status", v.Status}, {"size", v.Size}, {"type", v.VolumeType},
		{"bootable", v.Bootable}, {"multiattach", v.Multiattach}, {"availability_zone", v.AvailabilityZone},
		{"description", v.Description}, {"snapshot_id", v.SnapshotID}, {"source_volid", v.SourceVolID},
		{"image_id", v.VolumeImageMetadata["image_id"]}, {"properties", v.Metadata}, {"attached_to", attachedTo(*v)},
		{"project_id", v.TenantID}, {"created_at", timeValue(v.CreatedAt)}, {"updated_at", timeValue(v.UpdatedAt)}}
}

func snapshotFields(sn *snapshots.Snapshot) []field {
	return []field{{"id", sn.ID}, {"name", sn.Name}, {"status", sn.Status}, {"size", sn.Size}, {"volume_id", sn.VolumeID},
		{"description", sn.Description}, {"properties", sn.Metadata}, {"created_at", timeValue(sn.CreatedAt)}}
}
