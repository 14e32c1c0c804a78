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
	// entries hold, by path, where its key and its value are written and
	// the byte offset of a scalar value: one map, one lookup a path.
	entries map[string]*posEntry
	slab    []posEntry // entries are allocated from here, a chunk at a time
	// The last position computed: positions come mostly in file order, so
	// the next is counted from there rather than from its line's start
	// (a long line of hosts would make that quadratic).
	lastOff, lastLine, lastCol int
}

// posEntry is what the index knows of one path.
type posEntry struct {
	key, value               Position
	off                      int
	hasKey, hasValue, hasOff bool
}

func pathKey(path []string) string { return strings.Join(path, "\x00") }

// entry is the entry of path key k, made when there is none.
func (idx *posIndex) entry(k string) *posEntry {
	if e, ok := idx.entries[k]; ok {
		return e
	}
	if len(idx.slab) == cap(idx.slab) {
		idx.slab = make([]posEntry, 0, 1024)
	}
	idx.slab = idx.slab[:len(idx.slab)+1]
	e := &idx.slab[len(idx.slab)-1]
	idx.entries[k] = e
	return e
}

// The first position seen for a path is kept: a table split over several
// headers is reported where it starts.
func (idx *posIndex) recordKey(path []string, p Position) {
	if e := idx.entry(pathKey(path)); !e.hasKey {
		e.key, e.hasKey = p, true
	}
}

func (idx *posIndex) recordValue(path []string, p Position) {
	if e := idx.entry(pathKey(path)); !e.hasValue {
		e.value, e.hasValue = p, true
	}
}

// keyOf is where the key of exactly path is written, if it is.
func (idx *posIndex) keyOf(path []string) Position {
	if e, ok := idx.entries[pathKey(path)]; ok && e.hasKey {
		return e.key
	}
	return Position{}
}

// hasValue reports whether the file writes a value at path.
func (idx *posIndex) hasValue(path []string) bool {
	e, ok := idx.entries[pathKey(path)]
	return ok && e.hasValue
}

func buildIndex(data []byte) (*posIndex, error) {
	idx := &posIndex{
		data:     data,
		entries:  make(map[string]*posEntry, len(data)/16), // about a key a line of a few words
		lastLine: -1,
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
		idx.recordKey(path, idx.pos(k.Raw))
	}
	if e.Kind == unstable.ArrayTable {
		n := arrayTables[pathKey(path)]
		arrayTables[pathKey(path)] = n + 1
		idx.recordValue(path, idx.keyOf(path))
		path = append(path, strconv.Itoa(n))
		idx.recordKey(path, idx.keyOf(path[:len(path)-1]))
	}
	idx.recordValue(path, idx.keyOf(path))
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
		idx.recordKey(path, keyPos)
	}
	idx.value(path, kv.Value(), keyPos)
}

func (idx *posIndex) value(path []string, v *unstable.Node, fallback Position) {
	pos := fallback
	e := idx.entry(pathKey(path))
	if v.Raw.Length > 0 {
		pos = idx.pos(v.Raw)
		if !e.hasOff {
			e.off, e.hasOff = int(v.Raw.Offset), true
		}
	}
	if !e.hasValue {
		e.value, e.hasValue = pos, true
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
			idx.recordKey(elem, pos)
			idx.value(elem, c, pos)
			i++
		}
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
		if e, ok := idx.entries[pathKey(path[:n])]; ok && e.hasKey {
			return e.key
		}
	}
	return Position{Line: 1, Column: 1}
}

// valueAt is where the value of path is written, else where its key is.
func (idx *posIndex) valueAt(path []string) Position {
	if e, ok := idx.entries[pathKey(path)]; ok && e.hasValue {
		return e.value
	}
	return idx.keyAt(path)
}

// inString is where the i-th byte of the string value at path is written.
// It counts from the opening quote, so it is exact unless escapes come
// before i — close enough to point an editor at the right word.
func (idx *posIndex) inString(path []string, s string, i int) Position {
	e, ok := idx.entries[pathKey(path)]
	if !ok || !e.hasOff {
		return idx.valueAt(path)
	}
	off := e.off
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
