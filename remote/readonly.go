package remote

import (
	"context"
	"errors"
	"fmt"
)

// ErrReadOnly is a change refused by a ReadOnly Conn.
var ErrReadOnly = errors.New("refused: this run changes nothing (deploy plan)")

// readOnly lets through the commands that say they change nothing
// (Cmd.ReadOnly: guards, checks, state reads) and refuses every other
// command and every upload.
type readOnly struct{ Conn }

// ReadOnly is c for `deploy plan`: what only looks runs, anything that
// would change the host is refused with ErrReadOnly.
func ReadOnly(c Conn) Conn { return readOnly{c} }

func (r readOnly) Run(ctx context.Context, cmd *Cmd) error {
	if !cmd.ReadOnly {
		return fmt.Errorf("%w: %s", ErrReadOnly, firstLineOf(cmd.Script))
	}
	return r.Conn.Run(ctx, cmd)
}

func (r readOnly) Upload(ctx context.Context, local, dest string) error {
	return fmt.Errorf("%w: upload %s to %s", ErrReadOnly, local, dest)
}

func firstLineOf(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i] + " …"
		}
	}
	return s
}
