//go:build unix

// Package pgtest starts a throwaway PostgreSQL server for tests, as
// remote/sshtest starts sshd: Debian's postgresql binaries
// (/usr/lib/postgresql/VERSION/bin, the newest version installed), a
// data directory in a temporary directory, a free port on 127.0.0.1, and
// one database owned by one user with a password. It is stopped and its
// files removed at cleanup. It never touches the machine's own cluster:
// no pg_ctlcluster, nothing under /var/lib/postgresql or /etc/postgresql.
//
// PostgreSQL refuses to run as root: when the tests run as root, the
// server runs as sshtest's login user (sshtest.LoginUser).
package pgtest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// Install is what installs the server and the Python driver Django uses.
const Install = "apt-get install postgresql python3-psycopg2"

// Server is a running PostgreSQL server with one database.
type Server struct {
	Host     string // 127.0.0.1
	Port     int
	DB       string // the database, owned by User
	User     string
	Password string
	Dir      string // holds the data directory and the socket

	bin  string // the directory of postgres, psql, initdb
	cred *syscall.Credential
	cmd  *exec.Cmd
	log  *sshtest.Buffer
	done chan struct{}
}

// BinDir is the bin directory of the newest PostgreSQL version installed
// the Debian way, /usr/lib/postgresql/VERSION/bin.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin/postgres")
	}
	version := func(p string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(p))), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(a), version(b)) })
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// Start runs a new server with database and user "superbook" and a random
// password, and stops it at cleanup. It skips the test when PostgreSQL is
// not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Skipf("PostgreSQL not installed (%v): %s", err, Install)
	}
	pass := make([]byte, 12)
	rand.Read(pass)
	s := &Server{Host: "127.0.0.1", DB: "superbook", User: "superbook", Password: hex.EncodeToString(pass), bin: bin, log: &sshtest.Buffer{}}
	s.Dir = s.makeDir(t)
	t.Cleanup(func() { os.RemoveAll(s.Dir) })

	data := filepath.Join(s.Dir, "data")
	if out, err := s.command("initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync",
		"--auth-local=trust", "--auth-host=scram-sha-256").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before postgres binds it
		if lastErr = s.start(data); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("postgres: %v", lastErr)
	}
	t.Cleanup(s.Stop)
	s.Exec(t, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", s.User, s.Password))
	s.Exec(t, "postgres", fmt.Sprintf("CREATE DATABASE %s OWNER %s", s.DB, s.User))
	return s
}

// makeDir is a temporary directory the server's user owns, which others
// may enter (to reach the socket).
func (s *Server) makeDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		return dir
	}
	u, err := user.Lookup(sshtest.LoginUser(t))
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// command is one of the server's programs, run as the server's user, with
// no PG* variable of ours in its way.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	return cmd
}

// start runs postgres on a free port and waits until it accepts
// connections.
func (s *Server) start(data string) error {
	port, err := sshtest.FreePort()
	if err != nil {
		return err
	}
	s.Port = port
	s.cmd = s.command("postgres", "-D", data, "-k", s.Dir, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses="+s.Host, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited: %s", s.log.String())
		default:
		}
		if s.command("pg_isready", "-q", "-h", s.Dir, "-p", strconv.Itoa(s.Port)).Run() == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("postgres did not accept connections on port %d within 15s: %s", s.Port, s.log.String())
}

// Stop shuts the server down (SIGINT: fast shutdown, which ends the
// clients' sessions), killing it if it has not stopped within 10 s. It
// is safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Log is what the server has logged so far.
func (s *Server) Log() string { return s.log.String() }

// URL is the database's URL, for SUPERBOOK_DATABASE_URL.
func (s *Server) URL() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(s.User, s.Password),
		Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + s.DB}
	return u.String()
}

// Query runs SQL in the server's database as the superuser, over the
// socket, and returns its output unaligned, tuples only ("t", "0",
// "a|b"); an error fails the test.
func (s *Server) Query(t testing.TB, sql string) string {
	t.Helper()
	return s.Exec(t, s.DB, sql)
}

// Exec is Query in database db.
func (s *Server) Exec(t testing.TB, db, sql string) string {
	t.Helper()
	out, err := s.command("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", s.Dir, "-p", strconv.Itoa(s.Port),
		"-U", "postgres", "-d", db, "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// RequireDriver skips the test unless python (the interpreter the app
// runs with) can import psycopg2, Django's PostgreSQL driver.
func RequireDriver(t testing.TB, python string) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import psycopg2").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import psycopg2 (%v: %s): %s", python, err, strings.TrimSpace(string(out)), Install)
	}
}
