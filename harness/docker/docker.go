// Package docker is the container runtime of the bench: it runs a
// topology's nodes as Docker containers, the way containerlab does (no
// network of their own; links are veth pairs moved into their namespaces by
// package netns, which drives the whole bring-up and calls this package
// through netns.Containers).
//
// What it asks of the engine is only this: create, start, inspect and remove
// containers of images already on the engine (nothing is pulled), each with
// NetworkMode none, unprivileged with the topology's cap-add, devices and
// binds (whose host paths the lab has checked exist, so the engine creates
// none), labelled with the lab and node. It creates no network, volume or
// image. testcontainers-go finds and connects to the engine (DOCKER_HOST,
// its configuration, the default socket), with its reaper (Ryuk) disabled;
// containers are created through the engine's API directly, because
// testcontainers' container requests attach every container to a default
// network, creating one ("reaper_default", a bridge with a host route) on
// an engine without a bridge network. The lab removes its containers
// itself — `getlab down --all` too, by label.
package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/getlab/getlab/harness/netns"
	"github.com/getlab/getlab/harness/shellwords"
	"github.com/getlab/getlab/harness/topo"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Labels set on every container of a lab.
const (
	LabelLab  = "getlab.lab"
	LabelNode = "getlab.node"
)

// idleBinary is bound into every container and runs as its init process
// while the lab wires it, so any image works, whatever its entrypoint
// needs: the node's own process starts later, through nsenter.
const idleBinary = "/.getlab/busybox"

// Runtime runs nodes as Docker containers. The zero value is not usable;
// call New.
type Runtime struct {
	// Busybox is the static busybox bound in as the idle init process.
	Busybox string
	cli     *testcontainers.DockerClient
}

// New connects to the Docker engine (DOCKER_HOST or the default socket)
// and disables the reaper.
func New(ctx context.Context) (*Runtime, error) {
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// Its default logger writes registry-credential notes to standard
	// error for every container; the lab reports its own progress.
	tclog.SetDefault(tclog.NewNoopLogger())
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		return nil, fmt.Errorf("docker: no engine answers: %w", err)
	}
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		return nil, errors.New("docker: needs a static busybox at /bin/busybox (Debian package busybox-static)")
	}
	return &Runtime{Busybox: bb, cli: cli}, nil
}

// Runtime names the runtime.
func (r *Runtime) Runtime() string { return "docker" }

var _ netns.Containers = (*Runtime)(nil)

// Run creates and starts the node's container, idle.
func (r *Runtime) Run(ctx context.Context, lab string, node *topo.Node, dir string) (netns.Container, error) {
	binds := []string{r.Busybox + ":" + idleBinary + ":ro"}
	for _, b := range node.Binds {
		host := b.Host
		if !filepath.IsAbs(host) {
			host = filepath.Join(dir, host)
		}
		spec := host + ":" + b.Node
		if b.ReadOnly {
			spec += ":ro"
		}
		binds = append(binds, spec)
	}
	env := []string{}
	for _, k := range slices.Sorted(maps.Keys(node.Env)) {
		env = append(env, k+"="+node.Env[k])
	}
	img, err := r.cli.ImageInspect(ctx, node.Image)
	if err != nil {
		return netns.Container{}, fmt.Errorf("image %s: %w (the docker runtime pulls nothing: `make images` builds the project's)", node.Image, err)
	}
	var devices []container.DeviceMapping
	for _, d := range node.Devices {
		devices = append(devices, container.DeviceMapping{PathOnHost: d, PathInContainer: d, CgroupPermissions: "rwm"})
	}
	// Created with the engine's API directly, not testcontainers'
	// GenericContainer: that attaches every container to a default
	// network, and where the engine has no "bridge" network (dockerd
	// --bridge=none, as the bench runs it) it creates a "reaper_default"
	// bridge network, with a host route, for each provider. A lab's
	// containers have no network at all: NetworkMode none, and the lab
	// wires them.
	created, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: lab + "-" + node.Name,
		Config: &container.Config{
			Image:      node.Image,
			Entrypoint: []string{idleBinary, "sleep", "2147483647"},
			Env:        env,
			Labels:     map[string]string{LabelLab: lab, LabelNode: node.Name},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Privileged:  false,
			CapAdd:      node.CapAdd,
			Binds:       binds,
			Resources:   container.Resources{Devices: devices},
		},
	})
	if err != nil {
		return netns.Container{}, fmt.Errorf("create a container of %s: %w", node.Image, err)
	}
	id := created.ID
	fail := func(err error) (netns.Container, error) {
		_ = r.Remove(context.WithoutCancel(ctx), id)
		return netns.Container{}, fmt.Errorf("container of %s: %w", node.Image, err)
	}
	if _, err := r.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fail(fmt.Errorf("start container: %w", err))
	}
	info, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fail(err)
	}
	if info.Container.State == nil || info.Container.State.Pid == 0 {
		return fail(errors.New("container is not running"))
	}
	out := netns.Container{ID: id, PID: info.Container.State.Pid}
	// The node's process: the topology's cmd (split like a shell, as the
	// netns runtime does) after the image's entrypoint, or the image's own
	// command.
	cfg := img.Config
	if cfg != nil {
		out.Argv = append(out.Argv, cfg.Entrypoint...)
		out.Env = append(out.Env, cfg.Env...)
	}
	if node.Cmd != "" {
		words, err := shellwords.Split(node.Cmd)
		if err != nil {
			return fail(fmt.Errorf("cmd: %w", err))
		}
		out.Argv = append(out.Argv, words...)
	} else if cfg != nil {
		out.Argv = append(out.Argv, cfg.Cmd...)
	}
	for k, v := range node.Env {
		out.Env = append(out.Env, k+"="+v)
	}
	return out, nil
}

// Remove removes a container (forcibly: the lab is going away).
func (r *Runtime) Remove(ctx context.Context, id string) error {
	_, err := r.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && strings.Contains(err.Error(), "No such container") {
		return nil
	}
	return err
}

// RemoveLab removes every container of lab ("" = of every getlab lab).
func (r *Runtime) RemoveLab(ctx context.Context, lab string) error {
	label := LabelLab
	if lab != "" {
		label += "=" + lab
	}
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{"label": {label: true}}})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range res.Items {
		errs = append(errs, r.Remove(ctx, c.ID))
	}
	return errors.Join(errs...)
}
