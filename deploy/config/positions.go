package config

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2/unstable"
)

// posIndex maps every key path of a TOML document to where its key and its
// value are written. go-toml decodes values but forgets positions; the
// validation errors need them ("Deployfile:12:7: …"), so the loader walks the
// document's syntax tree once, alongside the ordinary decode.
//
// A path is the TOML keys from the root, with array elements as their
// decimal index: tasks / deploy / steps / 3 / on.
type posIndex struct {
	data       []byte
	lineStarts []int
	keys       map[string]Position
	values     map[string]Position
	valueOffs  map[string]int // byte offset of each scalar value
	// The last position computed: positions come mostly in file order, so
	// the next is counted from there rather than from its line's start
	// (a long line of hosts would make that quadratic).
	lastOff, lastLine, lastCol int
}

func pathKey(path []string) string { return strings.Join(path, "\x00") }

func buildIndex(data []byte) (*posIndex, error) {
	n := len(data) / 16 // about one key a line of a few words
	idx := &posIndex{
		data:      data,
		keys:      make(map[string]Position, n),
		values:    make(map[string]Position, n),
		valueOffs: make(map[string]int, n),
		lastLine:  -1,
	}
	idx.lineStarts = append(idx.lineStarts, 0)
	for i, c := range data {
		if c == '\n' {
			idx.lineStarts = append(idx.lineStarts, i+1)
		}
	}

	var p unstable.Parser
	p.Reset(data)
	var prefix []string
	arrayTables := map[string]int{} // path of an [[array.table]] → elements so far
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			idx.keyValue(prefix, e)
		case unstable.Table, unstable.ArrayTable:
			prefix = idx.header(e, arrayTables)
		}
	}
	return idx, p.Error()
}

// header records a [table] or [[array.table]] header and returns the path
// that the key/values below it live under.
func (idx *posIndex) header(e *unstable.Node, arrayTables map[string]int) []string {
	var path []string
	it := e.Key()
	for it.Next() {
		k := it.Node()
		// A segment naming an array of tables refers to its last element.
		if n := arrayTables[pathKey(path)]; n > 0 && len(path) > 0 {
			path = append(path, strconv.Itoa(n-1))
		}
		path = append(path, string(k.Data))
		idx.record(idx.keys, path, idx.pos(k.Raw))
	}
	if e.Kind == unstable.ArrayTable {
		n := arrayTables[pathKey(path)]
		arrayTables[pathKey(path)] = n + 1
		idx.record(idx.values, path, idx.keys[pathKey(path)])
		path = append(path, strconv.Itoa(n))
		idx.record(idx.keys, path, idx.keys[pathKey(path[:len(path)-1])])
	}
	idx.record(idx.values, path, idx.keys[pathKey(path)])
	return append([]string(nil), path...)
}

func (idx *posIndex) keyValue(prefix []string, kv *unstable.Node) {
	path := append([]string(nil), prefix...)
	var keyPos Position
	it := kv.Key()
	for it.Next() {
		k := it.Node()
		keyPos = idx.pos(k.Raw)
		path = append(path, string(k.Data))
		idx.record(idx.keys, path, keyPos)
	}
	idx.value(path, kv.Value(), keyPos)
}

func (idx *posIndex) value(path []string, v *unstable.Node, fallback Position) {
	pos := fallback
	k := pathKey(path)
	if v.Raw.Length > 0 {
		pos = idx.pos(v.Raw)
		if _, seen := idx.valueOffs[k]; !seen {
			idx.valueOffs[k] = int(v.Raw.Offset)
		}
	}
	if _, ok := idx.values[k]; !ok {
		idx.values[k] = pos
	}
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				idx.keyValue(path, c)
			}
		}
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			elem := append(append([]string(nil), path...), strconv.Itoa(i))
			idx.record(idx.keys, elem, pos)
			idx.value(elem, c, pos)
			i++
		}
	}
}

// record keeps the first position seen for a path: a table split over
// several headers is reported where it starts.
func (idx *posIndex) record(m map[string]Position, path []string, p Position) {
	k := pathKey(path)
	if _, ok := m[k]; !ok {
		m[k] = p
	}
}

func (idx *posIndex) pos(r unstable.Range) Position {
	return idx.offsetPos(int(r.Offset))
}

// offsetPos turns a byte offset into a line and a column counted in
// characters, as editors count them.
func (idx *posIndex) offsetPos(off int) Position {
	if off > len(idx.data) {
		off = len(idx.data)
	}
	off = max(off, 0)
	line := sort.Search(len(idx.lineStarts), func(i int) bool { return idx.lineStarts[i] > off }) - 1
	from, col := idx.lineStarts[line], 1
	if line == idx.lastLine && idx.lastOff <= off && idx.lastOff >= from {
		from, col = idx.lastOff, idx.lastCol
	}
	col += utf8.RuneCount(idx.data[from:off])
	if off == len(idx.data) || utf8.RuneStart(idx.data[off]) {
		idx.lastOff, idx.lastLine, idx.lastCol = off, line, col
	}
	return Position{Line: line + 1, Column: col}
}

// keyAt is where the key of path is written; it falls back to the nearest
// enclosing key so that every error has a place.
func (idx *posIndex) keyAt(path []string) Position {
	for n := len(path); n > 0; n-- {
		if p, ok := idx.keys[pathKey(path[:n])]; ok {
			return p
		}
	}
	return Position{Line: 1, Column: 1}
}

// valueAt is where the value of path is written, else where its key is.
func (idx *posIndex) valueAt(path []string) Position {
	if p, ok := idx.values[pathKey(path)]; ok {
		return p
	}
	return idx.keyAt(path)
}

// inString is where the i-th byte of the string value at path is written.
// It counts from the opening quote, so it is exact unless escapes come
// before i — close enough to point an editor at the right word.
func (idx *posIndex) inString(path []string, s string, i int) Position {
	off, ok := idx.valueOffs[pathKey(path)]
	if !ok {
		return idx.valueAt(path)
	}
	raw := idx.data[off:]
	skip := 1
	if bytes.HasPrefix(raw, []byte(`"""`)) || bytes.HasPrefix(raw, []byte(`'''`)) {
		skip = 3
		switch {
		case bytes.HasPrefix(raw[3:], []byte("\n")):
			skip++
		case bytes.HasPrefix(raw[3:], []byte("\r\n")):
			skip += 2
		}
	}
	return idx.offsetPos(off + skip + i)
}
