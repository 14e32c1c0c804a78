package remote

import (
	"time"

	"golang.org/x/crypto/ssh"
)

// What runs for each connection of a Pool while it is open: one goroutine
// of deploy's own (serve) and a timer (keepalive). A run over 1,000 hosts
// holds 1,000 connections, so each goroutine here costs megabytes.

// serve says no to what the host asks of the connection — global
// requests (keepalives) and channels — until the connection ends (cut,
// reset, closed by keepalive), and then drops it from the pool, so the
// next command to that host dials again instead of failing on the dead
// one. A run that lost a host mid-step can reach it again to read its
// state and roll it back. It is the one goroutine of deploy's own a
// connection has: a run over 1,000 hosts keeps 1,000 of them open.
func (p *Pool) serve(key string, pc *pooledClient, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	for chans != nil || reqs != nil {
		select {
		case nc, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			_ = nc.Reject(ssh.UnknownChannelType, "unknown channel type")
		case r, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			_ = r.Reply(false, nil)
		}
	}
	pc.conn.Wait()
	close(pc.gone)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients[key] == pc {
		delete(p.clients, key)
	}
}

// sshClient is x/crypto's Client over the connection, for SFTP and the TCP
// connections of hosts behind this one. It is made on first use: a Client
// costs a goroutine (three while it handles the host's requests) for as
// long as the connection lives, which plain commands do without.
func (pc *pooledClient) sshClient() *ssh.Client {
	pc.clientOnce.Do(func() {
		if pc.client == nil {
			pc.client = ssh.NewClient(pc.conn, closed[ssh.NewChannel](), closed[*ssh.Request]())
		}
	})
	return pc.client
}

// closed is a closed channel: what is left to x/crypto's Client to serve
// when serve does it.
func closed[T any]() chan T {
	c := make(chan T)
	close(c)
	return c
}

// keepalive sends a keepalive@openssh.com request every interval and
// closes a connection that misses three in a row (ssh_config's
// ServerAliveInterval and ServerAliveCountMax for the host, when set), so
// a dead host fails its commands instead of hanging them. Between
// requests a timer waits, not a goroutine: a run over 1,000 hosts keeps
// 1,000 connections open.
func (p *Pool) keepalive(pc *pooledClient, e *endpoint) {
	interval, most := p.opts.KeepaliveInterval, 3
	if e.keepalive != 0 {
		interval = e.keepalive
	}
	if e.keepaliveMax > 0 {
		most = e.keepaliveMax
	}
	if interval < 0 {
		return
	}
	missed := 0 // one send at a time: each schedules the next
	var send func()
	send = func() {
		select {
		case <-pc.gone:
			return
		default:
		}
		next := time.Now().Add(interval)
		reply := make(chan error, 1)
		go func() {
			_, _, err := pc.conn.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				return // the connection is gone already
			}
			missed = 0
		case <-time.After(interval):
			missed++
		case <-pc.gone:
			return
		}
		if missed >= most {
			pc.conn.Close()
			return
		}
		time.AfterFunc(time.Until(next), send)
	}
	time.AfterFunc(interval, send)
}
