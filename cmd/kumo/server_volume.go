package main

import (
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
	"github.com/spf13/cobra"
)

// serverVolumeCommands are `server add volume` and `server remove volume`.
func serverVolumeCommands() []*cobra.Command {
	var device string
	var deleteOnTermination bool
	var aw waitFlags
	add := &cobra.Command{
		Use:   "volume SERVER VOLUME",
		Short: "Attach a volume to a server",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			_, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			srv, err := s.findServer(cc, args[0])
			if err != nil {
				return err
			}
			v, err := s.findVolume(vc, args[1])
			if err != nil {
				return err
			}
			opts := volumeattach.CreateOpts{VolumeID: v.ID, Device: device}
			if deleteOnTermination {
				cc.Microversion = "2.79"
				opts.DeleteOnTermination = true
			}
			att, err := volumeattach.Create(s.ctx, cc, srv.ID, opts).Extract()
			if err != nil {
				return err
			}
			if aw.wait {
				ctx, cancel := aw.context(cmd)
				defer cancel()
				if err := waitVolume(ctx, vc, v.ID, "in-use"); err != nil {
					return err
				}
			}
			return printObject(cmd, []field{{"server_id", att.ServerID}, {"volume_id", att.VolumeID}, {"device", att.Device}})
		},
	}
	add.Flags().StringVar(&device, "device", "", "device name hint, e.g. /dev/vdb (default: the next free one)")
	add.Flags().BoolVar(&deleteOnTermination, "delete-on-termination", false, "delete the volume with the server")
	aw.add(add, "the volume is in use")

	var rw waitFlags
	remove := &cobra.Command{
		Use:   "volume SERVER VOLUME",
		Short: "Detach a volume from a server",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			_, vc, err := volumeSession(cmd)
			if err != nil {
				return err
			}
			srv, err := s.findServer(cc, args[0])
			if err != nil {
				return err
			}
			v, err := s.findVolume(vc, args[1])
			if err != nil {
				return err
			}
			if err := volumeattach.Delete(s.ctx, cc, srv.ID, v.ID).ExtractErr(); err != nil {
				return err
			}
			if !rw.wait {
				return nil
			}
			ctx, cancel := rw.context(cmd)
			defer cancel()
			return waitVolume(ctx, vc, v.ID, "available")
		},
	}
	rw.add(remove, "the volume is available")

	addCmd := &cobra.Command{Use: "add", Short: "Attach something to a server"}
	addCmd.AddCommand(add)
	removeCmd := &cobra.Command{Use: "remove", Short: "Detach something from a server"}
	removeCmd.AddCommand(remove)
	return []*cobra.Command{addCmd, removeCmd}
}
