package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

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

// OK reports whether the host is fit to deploy to.
func (c HostCheck) OK() bool { return c.Error == "" }

// CheckHosts connects to every host, in parallel, and times a trivial
// command on each. It changes nothing on the hosts.
func (df *Deployfile) CheckHosts(ctx context.Context, conns connector, hosts []*Host, parallel int) []HostCheck {
	out := make([]HostCheck, len(hosts))
	var g errgroup.Group
	if parallel > 0 {
		g.SetLimit(parallel)
	}
	for i, h := range hosts {
		g.Go(func() error {
			out[i] = df.checkHost(ctx, conns, h)
			return nil
		})
	}
	g.Wait()
	return out
}

func (df *Deployfile) checkHost(ctx context.Context, conns connector, h *Host) HostCheck {
	c := HostCheck{Host: h.Name, Address: df.Target(h).String()}
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
	if err := conn.Run(ctx, &remote.Cmd{Script: "true"}); err != nil {
		c.Error = fmt.Sprintf("running true: %v", err)
	}
	c.RTT = time.Since(start)
	return c
}

// WriteHostChecks prints the checks as a table, and the errors below it.
func WriteHostChecks(w io.Writer, st Style, checks []HostCheck, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, c := range checks {
			if err := enc.Encode(struct {
				Event string `json:"event"`
				HostCheck
			}{"host_check", c}); err != nil {
				return err
			}
		}
		return nil
	}
	yesNo := func(ok bool, known bool) cell {
		switch {
		case !known:
			return cell{"-", st.Faint}
		case ok:
			return cell{"yes", st.Green}
		}
		return cell{"no", st.Red}
	}
	rows := [][]cell{{{"HOST", st.Faint}, {"ADDRESS", st.Faint}, {"REACHABLE", st.Faint}, {"HOST KEY", st.Faint},
		{"AUTHENTICATED", st.Faint}, {"CONNECT", st.Faint}, {"RTT", st.Faint}}}
	for _, c := range checks {
		key := cell{"-", st.Faint}
		switch c.HostKey {
		case "ok":
			key = cell{"ok", st.Green}
		case "":
		default:
			key = cell{c.HostKey, st.Red}
		}
		rtt := cell{"-", st.Faint}
		if c.Authenticated {
			rtt = plain(fmt.Sprintf("%.1fms", float64(c.RTT.Microseconds())/1000))
		}
		keyTrusted := c.HostKey != "unknown" && c.HostKey != "changed" && c.HostKey != "revoked"
		rows = append(rows, []cell{plain(c.Host), plain(c.Address), yesNo(c.Reachable, true), key,
			yesNo(c.Authenticated, c.Reachable && keyTrusted), plain(fmt.Sprintf("%.1fms", float64(c.Connect.Microseconds())/1000)), rtt})
	}
	writeTable(w, rows)
	for _, c := range checks {
		if c.Error != "" {
			fmt.Fprintf(w, "\n%s %s\n", st.Red(c.Host+":"), c.Error)
		}
	}
	return nil
}
