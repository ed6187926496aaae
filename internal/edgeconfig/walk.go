package edgeconfig

import (
	"errors"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The walker goes over the YAML tree beside the Go types before anything
// is decoded, so that a problem is reported with the path of the field it
// is in rather than the Go type yaml.v3 names: unknown and repeated keys,
// a list where a mapping belongs, a value that does not decode into its
// field. It also records each path's line for later validation errors.

var (
	configType   = reflect.TypeFor[Config]()
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// maxAliasNodes bounds the nodes visited through aliases, which can nest
// to describe exponentially many (the "billion laughs").
const maxAliasNodes = 100000

type walker struct {
	errs       []error
	lines      map[string]int
	viaAlias   int // how deep in aliases the walk is
	aliasNodes int
}

func newWalker() *walker { return &walker{lines: make(map[string]int)} }

func (w *walker) fail(path string, n *yaml.Node, problem string) {
	if path == "" {
		path = "config"
	}
	w.errs = append(w.errs, &FieldError{Field: path, Line: n.Line, Problem: problem})
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if w.viaAlias > 0 {
		if w.aliasNodes++; w.aliasNodes == maxAliasNodes {
			w.fail(path, n, "aliases expand to too many nodes")
		}
		if w.aliasNodes >= maxAliasNodes {
			return
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, t, path)
		}
		return
	case yaml.AliasNode:
		if n.Alias == nil {
			w.fail(path, n, "alias to nothing")
			return
		}
		w.viaAlias++
		w.walk(n.Alias, t, path)
		w.viaAlias--
		return
	}
	if _, seen := w.lines[path]; !seen {
		w.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // leaves the default in place
	}
	switch {
	case t.Kind() == reflect.Struct:
		w.mapping(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(path, n, "expected a list")
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(path, n, "expected a mapping")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				w.fail(path, k, "keys must be plain strings")
				continue
			}
			w.walk(n.Content[i+1], t.Elem(), path+"["+strconv.Quote(k.Value)+"]")
		}
	default:
		w.leaf(n, t, path)
	}
}

// mapping walks a mapping that decodes into struct type t.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.fail(path, n, "expected a mapping with "+strings.Join(fieldNames(t), ", "))
		return
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			// "<<: *base" or "<<: [*a, *b]" merges mappings into this one.
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					w.walk(m, t, path)
				}
			} else {
				w.walk(v, t, path)
			}
			continue
		}
		field := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			w.fail(path, k, "keys must be plain strings")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			w.fail(field, k, "given twice (first on line "+strconv.Itoa(line)+")")
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fieldType(t, k.Value)
		if !ok {
			w.fail(field, k, "unknown field; known here: "+strings.Join(fieldNames(t), ", "))
			continue
		}
		w.walk(v, ft, field)
	}
}

// leaf checks that a scalar decodes into its field's type.
func (w *walker) leaf(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.fail(path, n, "expected a single value, not a list or mapping")
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		w.fail(path, n, strconv.Quote(n.Value)+" is not "+kindName(t))
	}
}

func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 30s, 5m or 1h30m"
	case t == byteSizeType:
		return "a size such as 262144, 256KiB or 64MiB"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number in range"
	}
	return "a " + t.Kind().String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && name != "-" && f.IsExported() {
			return f.Type, true
		}
	}
	return nil, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" && f.IsExported() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// addLines gives each *FieldError in err the line of its field, or of the
// nearest enclosing field the YAML has.
func (w *walker) addLines(err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var fe *FieldError
		if !errors.As(e, &fe) || fe.Line != 0 {
			continue
		}
		for p := fe.Field; p != ""; p = parent(p) {
			if line, ok := w.lines[p]; ok {
				fe.Line = line
				break
			}
		}
	}
	return errors.Join(list...)
}

// parent drops a path's last element: a.b[2] → a.b → a → "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
