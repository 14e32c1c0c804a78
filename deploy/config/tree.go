package config

import (
	"regexp"
	"strconv"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// decodeTree builds the generic tree of a TOML document — tables as
// map[string]any, arrays as []any, and the scalars toml.Unmarshal gives —
// in one pass over its syntax, in time linear in the document.
// toml.Unmarshal checks each new [table] against every key seen so far,
// which is quadratic in a file of ten thousand tasks.
//
// It takes the straight path only: a document it is not sure about —
// invalid, or using TOML's rarer forms (a [table] under dotted keys, say)
// — returns false, and the caller decodes it with toml.Unmarshal, which
// has the last word on validity and on the error message. FuzzParse checks
// that both agree on every document decodeTree accepts.
func decodeTree(data []byte) (map[string]any, bool) {
	root := newTreeTable(tableHeader)
	var p unstable.Parser
	p.Reset(data)
	cur := root
	for p.NextExpression() {
		e := p.Expression()
		var ok bool
		switch e.Kind {
		case unstable.KeyValue:
			ok = cur.keyValue(e)
		case unstable.Table:
			cur, ok = root.header(e.Key(), false)
		case unstable.ArrayTable:
			cur, ok = root.header(e.Key(), true)
		default:
			ok = e.Kind == unstable.Comment
		}
		if !ok {
			return nil, false
		}
	}
	if p.Error() != nil {
		return nil, false
	}
	return root.m, true
}

// How a table came to be: TOML lets each be extended in its own ways.
type tableKind int

const (
	tableImplicit tableKind = iota // named on the way to a [header]: may be defined later
	tableHeader                    // defined by a [header] or [[header]]
	tableDotted                    // made by a dotted key: a.b = 1
	tableInline                    // { … }: closed
)

type treeTable struct {
	m    map[string]any
	kind tableKind
	sub  map[string]*treeTable   // tables by key
	aot  map[string][]*treeTable // arrays of [[tables]] by key
}

func newTreeTable(kind tableKind) *treeTable {
	return &treeTable{m: map[string]any{}, kind: kind, sub: map[string]*treeTable{}, aot: map[string][]*treeTable{}}
}

func (t *treeTable) newSub(k string, kind tableKind) *treeTable {
	s := newTreeTable(kind)
	t.m[k], t.sub[k] = s.m, s
	return s
}

// header finds or makes the table of a [header] ([[header]] when array).
func (t *treeTable) header(it unstable.Iterator, array bool) (*treeTable, bool) {
	var keys []string
	for it.Next() {
		keys = append(keys, string(it.Node().Data))
	}
	if len(keys) == 0 {
		return nil, false
	}
	cur := t
	for _, k := range keys[:len(keys)-1] {
		switch {
		case cur.sub[k] != nil && (cur.sub[k].kind == tableImplicit || cur.sub[k].kind == tableHeader):
			cur = cur.sub[k]
		case len(cur.aot[k]) > 0:
			cur = cur.aot[k][len(cur.aot[k])-1]
		case cur.has(k):
			return nil, false
		default:
			cur = cur.newSub(k, tableImplicit)
		}
	}
	last := keys[len(keys)-1]
	if array {
		if cur.has(last) && len(cur.aot[last]) == 0 {
			return nil, false
		}
		s := newTreeTable(tableHeader)
		cur.aot[last] = append(cur.aot[last], s)
		arr, _ := cur.m[last].([]any)
		cur.m[last] = append(arr, s.m)
		return s, true
	}
	switch {
	case cur.sub[last] != nil && cur.sub[last].kind == tableImplicit:
		cur.sub[last].kind = tableHeader
		return cur.sub[last], true
	case cur.has(last):
		return nil, false
	}
	return cur.newSub(last, tableHeader), true
}

func (t *treeTable) has(k string) bool {
	_, ok := t.m[k]
	return ok
}

// keyValue sets key = value in t, making the tables of a dotted key.
func (t *treeTable) keyValue(kv *unstable.Node) bool {
	var keys []string
	it := kv.Key()
	for it.Next() {
		keys = append(keys, string(it.Node().Data))
	}
	if len(keys) == 0 {
		return false
	}
	cur := t
	for _, k := range keys[:len(keys)-1] {
		switch {
		case cur.sub[k] != nil && cur.sub[k].kind == tableDotted:
			cur = cur.sub[k]
		case cur.has(k):
			return false
		default:
			cur = cur.newSub(k, tableDotted)
		}
	}
	last := keys[len(keys)-1]
	if cur.has(last) {
		return false
	}
	v := kv.Value()
	if v.Kind == unstable.InlineTable {
		s := cur.newSub(last, tableInline)
		s.kind = tableDotted // its own dotted keys may extend each other
		ok := s.inline(v)
		s.kind = tableInline
		return ok
	}
	val, ok := treeValue(v)
	if ok {
		cur.m[last] = val
	}
	return ok
}

// inline fills t with the key/values of an inline table.
func (t *treeTable) inline(v *unstable.Node) bool {
	it := v.Children()
	for it.Next() {
		c := it.Node()
		if c.Kind == unstable.Comment {
			continue
		}
		if c.Kind != unstable.KeyValue || !t.keyValue(c) {
			return false
		}
	}
	return true
}

// plainInt is a decimal integer that strconv reads exactly as TOML does.
var plainInt = regexp.MustCompile(`^[+-]?(0|[1-9][0-9]{0,17})$`)

func treeValue(v *unstable.Node) (any, bool) {
	switch v.Kind {
	case unstable.String:
		return string(v.Data), true
	case unstable.Bool:
		return string(v.Data) == "true", true
	case unstable.Integer:
		if plainInt.Match(v.Data) {
			n, err := strconv.ParseInt(string(v.Data), 10, 64)
			return n, err == nil
		}
		return scalar(v.Data)
	case unstable.Float, unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return scalar(v.Data)
	case unstable.Array:
		arr := []any{}
		it := v.Children()
		for it.Next() {
			c := it.Node()
			switch c.Kind {
			case unstable.Comment:
				continue
			case unstable.InlineTable:
				s := newTreeTable(tableDotted)
				if !s.inline(c) {
					return nil, false
				}
				arr = append(arr, s.m)
			default:
				x, ok := treeValue(c)
				if !ok {
					return nil, false
				}
				arr = append(arr, x)
			}
		}
		return arr, true
	case unstable.InlineTable:
		s := newTreeTable(tableDotted)
		return s.m, s.inline(v)
	}
	return nil, false
}

// scalar reads a number or a date as toml.Unmarshal does, by asking it.
func scalar(text []byte) (any, bool) {
	var m map[string]any
	if err := toml.Unmarshal(append([]byte("v = "), text...), &m); err != nil {
		return nil, false
	}
	v, ok := m["v"]
	return v, ok
}
