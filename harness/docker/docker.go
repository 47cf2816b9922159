// Package docker is the container runtime of the bench: it runs a
// topology's nodes as Docker containers through testcontainers-go, the way
// containerlab does (no network of their own; links are veth pairs moved
// into their namespaces by package netns, which drives the whole bring-up
// and calls this package through netns.Containers).
//
// Containers run unprivileged with the topology's cap-add; the reaper
// (Ryuk) is disabled, since no registry is reachable to pull it, and the
// lab removes its containers itself — `getlab down --all` too, by label.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	env := map[string]string{}
	for k, v := range node.Env {
		env[k] = v
	}
	req := testcontainers.ContainerRequest{
		Image:      node.Image,
		Name:       lab + "-" + node.Name,
		Entrypoint: []string{idleBinary, "sleep", "2147483647"},
		Cmd:        []string{},
		Env:        env,
		Labels:     map[string]string{LabelLab: lab, LabelNode: node.Name},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.NetworkMode = "none"
			hc.Privileged = false
			hc.CapAdd = append(hc.CapAdd, node.CapAdd...)
			hc.Binds = append(hc.Binds, binds...)
			for _, d := range node.Devices {
				hc.Devices = append(hc.Devices, container.DeviceMapping{PathOnHost: d, PathInContainer: d, CgroupPermissions: "rwm"})
			}
		},
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		if c != nil {
			_ = testcontainers.TerminateContainer(c)
		}
		return netns.Container{}, fmt.Errorf("node %s (%s): %w", node.Name, node.Image, err)
	}
	dc, ok := c.(*testcontainers.DockerContainer)
	if !ok {
		return netns.Container{}, fmt.Errorf("node %s: unexpected container type %T", node.Name, c)
	}
	info, err := dc.Inspect(ctx)
	if err != nil {
		return netns.Container{}, err
	}
	img, err := r.cli.ImageInspect(ctx, node.Image)
	if err != nil {
		return netns.Container{}, fmt.Errorf("image %s: %w", node.Image, err)
	}
	out := netns.Container{ID: dc.GetContainerID(), PID: info.State.Pid}
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
			return netns.Container{}, fmt.Errorf("node %s: cmd: %w", node.Name, err)
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
