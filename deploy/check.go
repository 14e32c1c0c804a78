package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
)

// HostCheck is what `deploy check TARGET` found out about one host.
type HostCheck struct {
	Host          string        `json:"host"`
	Address       string        `json:"address"`
	Reachable     bool          `json:"reachable"`
	HostKey       string        `json:"host_key"` // ok, unknown, changed, revoked, or "" when not reached
	Authenticated bool          `json:"authenticated"`
	Connect       time.Duration `json:"connect_ns"` // TCP connection and SSH handshake
	RTT           time.Duration `json:"rtt_ns"`     // running `true` over the connection
	Error         string        `json:"error,omitempty"`
}

// endpointer is a connector that can say where a host is reached without
// connecting (Connector).
type endpointer interface {
	Endpoint(h *config.Host) (Endpoint, error)
}

// OK reports whether the host is fit to deploy to.
func (c HostCheck) OK() bool { return c.Error == "" }

// CheckHosts connects to every host, in parallel, and times a trivial
// command on each. It changes nothing on the hosts.
func CheckHosts(ctx context.Context, df *config.Deployfile, conns connector, hosts []*config.Host, parallel int) []HostCheck {
	out := make([]HostCheck, len(hosts))
	var g errgroup.Group
	if parallel > 0 {
		g.SetLimit(parallel)
	}
	for i, h := range hosts {
		g.Go(func() error {
			out[i] = checkHost(ctx, df, conns, h)
			return nil
		})
	}
	g.Wait()
	return out
}

func checkHost(ctx context.Context, df *config.Deployfile, conns connector, h *config.Host) HostCheck {
	c := HostCheck{Host: h.Name, Address: Target(df, h).String()}
	if e, ok := conns.(endpointer); ok && !h.Local() {
		if ep, err := e.Endpoint(h); err == nil {
			c.Address = ep.String() // as ssh_config resolves it
		}
	}
	if h.Local() {
		c.Address = "(this machine)"
	}
	start := time.Now()
	conn, err := conns.Conn(ctx, h)
	c.Connect = time.Since(start)
	if err != nil {
		c.Error = err.Error()
		var hk *remote.HostKeyError
		var auth *remote.AuthError
		switch {
		case errors.As(err, &hk):
			c.Reachable, c.HostKey = true, hk.Kind
		case errors.As(err, &auth):
			c.Reachable, c.HostKey = true, "ok"
		}
		return c
	}
	c.Reachable, c.Authenticated = true, true
	if !h.Local() {
		c.HostKey = "ok"
	}
	start = time.Now()
	if err := conn.Run(ctx, &remote.Cmd{Script: "true", Public: true}); err != nil {
		c.Error = fmt.Sprintf("running true: %v", err)
	}
	c.RTT = time.Since(start)
	return c
}
