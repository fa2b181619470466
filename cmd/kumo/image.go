package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/spf13/cobra"
)

func imageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}

	list := &cobra.Command{
		Use:   "list",
		Short: "List images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, ic, err := imageSession(cmd)
			if err != nil {
				return err
			}
			pages, err := images.List(ic, images.ListOpts{}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := images.ExtractImages(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, i := range all {
				rows = append(rows, []any{i.ID, i.Name, string(i.Status), string(i.Visibility), i.DiskFormat, i.SizeBytes})
			}
			return printList(cmd, []string{"id", "name", "status", "visibility", "disk_format", "size"}, rows)
		},
	}

	show := &cobra.Command{
		Use:   "show IMAGE",
		Short: "Show an image (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ic, err := imageSession(cmd)
			if err != nil {
				return err
			}
			img, err := s.findImage(ic, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, imageFields(img))
		},
	}

	var file, diskFormat, containerFormat, visibility string
	var props []string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an image, uploading --file as its data",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ic, err := imageSession(cmd)
			if err != nil {
				return err
			}
			opts := images.CreateOpts{Name: args[0], DiskFormat: diskFormat, ContainerFormat: containerFormat,
				Properties: map[string]string{}}
			if visibility != "" {
				v := images.ImageVisibility(visibility)
				opts.Visibility = &v
			}
			for _, p := range props {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return fmt.Errorf("--property %q: want KEY=VALUE", p)
				}
				opts.Properties[k] = v
			}
			var data *os.File
			if file != "" {
				if data, err = os.Open(file); err != nil {
					return err
				}
				defer data.Close()
			}
			img, err := images.Create(s.ctx, ic, opts).Extract()
			if err != nil {
				return err
			}
			if data != nil {
				if err := imagedata.Upload(s.ctx, ic, img.ID, data).ExtractErr(); err != nil {
					return fmt.Errorf("upload %s: %s (image %s was created without data: delete it or upload again)", file, describe(err), img.ID)
				}
				if img, err = images.Get(s.ctx, ic, img.ID).Extract(); err != nil {
					return err
				}
			}
			return printObject(cmd, imageFields(img))
		},
	}
	create.Flags().StringVar(&file, "file", "", "image data to upload")
	create.Flags().StringVar(&diskFormat, "disk-format", "raw", "disk format (raw, qcow2, vmdk, vdi, vhd, vhdx, iso, ...)")
	create.Flags().StringVar(&containerFormat, "container-format", "bare", "container format")
	create.Flags().StringVar(&visibility, "visibility", "", "public, private, shared or community (default: shared)")
	create.Flags().StringArrayVar(&props, "property", nil, "custom property KEY=VALUE (repeatable)")

	del := &cobra.Command{
		Use:   "delete IMAGE...",
		Short: "Delete images (names or ids)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ic, err := imageSession(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				img, err := s.findImage(ic, ref)
				if err != nil {
					return err
				}
				if err := images.Delete(s.ctx, ic, img.ID).ExtractErr(); err != nil {
					return err
				}
			}
			return nil
		},
	}

	var saveFile string
	save := &cobra.Command{
		Use:   "save IMAGE --file PATH",
		Short: "Download an image's data",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ic, err := imageSession(cmd)
			if err != nil {
				return err
			}
			img, err := s.findImage(ic, args[0])
			if err != nil {
				return err
			}
			body, err := imagedata.Download(s.ctx, ic, img.ID).Extract()
			if err != nil {
				return err
			}
			defer body.Close()
			out := cmd.OutOrStdout()
			if saveFile != "" && saveFile != "-" {
				f, err := os.Create(saveFile)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			if _, err := io.Copy(out, body); err != nil {
				return err
			}
			if f, ok := out.(*os.File); ok && f != os.Stdout {
				return f.Close()
			}
			return nil
		},
	}
	save.Flags().StringVar(&saveFile, "file", "", "where to write the data (default: standard output)")

	cmd.AddCommand(list, show, create, del, save)
	return cmd
}

// imageSession connects and returns an image v2 client.
func imageSession(cmd *cobra.Command) (*session, *gophercloud.ServiceClient, error) {
	s, err := connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	ic, err := openstack.NewImageV2(s.provider, gophercloud.EndpointOpts{})
	if err != nil {
		return nil, nil, err
	}
	return s, ic, nil
}

// findImage resolves an image id, or a name that exactly one visible image
// has.
func (s *session) findImage(ic *gophercloud.ServiceClient, ref string) (*images.Image, error) {
	img, err := images.Get(s.ctx, ic, ref).Extract()
	if err == nil {
		return img, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	pages, err := images.List(ic, images.ListOpts{Name: ref}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := images.ExtractImages(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "image", ref)
}

func imageFields(i *images.Image) []field {
	return []field{{"id", i.ID}, {"name", i.Name}, {"status", string(i.Status)}, {"visibility", string(i.Visibility)},
		{"owner", i.Owner}, {"disk_format", i.DiskFormat}, {"container_format", i.ContainerFormat},
		{"size", i.SizeBytes}, {"virtual_size", i.VirtualSize}, {"checksum", i.Checksum},
		{"os_hash_value", i.Properties["os_hash_value"]}, {"protected", i.Protected}, {"min_disk", i.MinDiskGigabytes},
		{"min_ram", i.MinRAMMegabytes}, {"tags", i.Tags}, {"created_at", timeValue(i.CreatedAt)},
		{"updated_at", timeValue(i.UpdatedAt)}}
}
