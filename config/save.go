package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/yamlsafe"
	"gopkg.in/yaml.v3"
)

// Save writes l to <root>/epack.lock.yaml. Only schema_version and remotes
// come from l; every other top-level section of the file on disk is kept as
// it is (its YAML nodes are re-emitted unchanged). Every map key written from
// l is sorted, top-level keys are sorted, the indent is 2 spaces and the same
// LockFile always gives the same bytes. The file is written atomically (a
// new temp file in the same folder, fsync, rename, fsync of the folder); a
// symlinked epack.lock.yaml is refused. l is checked with the same rules
// LoadLock applies, so Save never writes a file LoadLock refuses.
func (l *LockFile) Save(root string) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "invalid project root %q", root)
	}
	if l == nil {
		return errcode.New(errcode.Internal, "Save called on a nil LockFile")
	}
	if len(l.Remotes) > MaxRemotes {
		return lockFail(0, "", "remotes: %d entries, at most %d are allowed", len(l.Remotes), MaxRemotes)
	}
	for _, name := range sortedKeys(l.Remotes) {
		if l.Remotes[name] == nil {
			continue // nil entries are not written
		}
		if err := checkLockedRemote(name, l.Remotes[name]); err != nil {
			return lockFail(0, fmt.Sprintf("remote %q", name), "%v", err)
		}
	}
	path := filepath.Join(abs, LockFileName)
	var existing *yaml.Node
	data, err := yamlsafe.ReadFile(path, MaxLockBytes)
	switch {
	case err == nil:
		existing, err = yamlsafe.Parse(data, yamlsafe.DefaultLimits)
		if err != nil {
			line, msg := splitYAMLError(err)
			return lockFail(line, "", "cannot keep the existing file's other sections: invalid YAML: %s", msg)
		}
		if existing != nil && !isNull(existing) && existing.Kind != yaml.MappingNode {
			return lockFail(existing.Line, "", "the top level must be a mapping")
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return fileError(errcode.LockfileInvalid, path, err)
	}
	out, err := l.marshal(existing)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, out, 0o644)
}

// marshal renders l, keeping the top-level sections of existing other than
// schema_version and remotes.
func (l *LockFile) marshal(existing *yaml.Node) ([]byte, error) {
	type kv struct{ k, v *yaml.Node }
	var pairs []kv
	top := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	oldKeys := map[string]*yaml.Node{}
	if existing != nil && existing.Kind == yaml.MappingNode {
		top.HeadComment, top.FootComment = existing.HeadComment, existing.FootComment
		var kept []*yaml.Node
		for i := 0; i+1 < len(existing.Content); i += 2 {
			k, v := existing.Content[i], existing.Content[i+1]
			if k.Kind == yaml.ScalarNode && (k.Value == "schema_version" || k.Value == "remotes") {
				oldKeys[k.Value] = k
				continue
			}
			kept = append(kept, k, v)
		}
		for i := 0; i+1 < len(kept); i += 2 {
			pairs = append(pairs, kv{kept[i], kept[i+1]})
		}
	}
	sv := l.SchemaVersion
	if sv == 0 {
		sv = 1
	}
	svKey := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "schema_version"}
	svVal := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(sv)}
	if o := oldKeys["schema_version"]; o != nil {
		svKey.HeadComment, svKey.LineComment = o.HeadComment, o.LineComment
	}
	pairs = append(pairs, kv{svKey, svVal})
	remotes := map[string]*LockedRemote{}
	for k, v := range l.Remotes {
		if v != nil {
			remotes[k] = v
		}
	}
	if len(remotes) > 0 {
		var rn yaml.Node
		if err := rn.Encode(remotes); err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "encoding %s", LockFileName)
		}
		sortMappings(&rn)
		rKey := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "remotes"}
		if o := oldKeys["remotes"]; o != nil {
			rKey.HeadComment, rKey.LineComment = o.HeadComment, o.LineComment
		}
		pairs = append(pairs, kv{rKey, &rn})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].k.Value < pairs[j].k.Value })
	for _, p := range pairs {
		top.Content = append(top.Content, p.k, p.v)
	}
	inlineUnboundAliases(top)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "encoding %s", LockFileName)
	}
	if err := enc.Close(); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "encoding %s", LockFileName)
	}
	return buf.Bytes(), nil
}

// sortMappings sorts the keys of every mapping under n (n was built by
// Encode, so it has no aliases or merge keys).
func sortMappings(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		type kv struct{ k, v *yaml.Node }
		ps := make([]kv, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			ps = append(ps, kv{n.Content[i], n.Content[i+1]})
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].k.Value < ps[j].k.Value })
		n.Content = n.Content[:0]
		for _, p := range ps {
			n.Content = append(n.Content, p.k, p.v)
		}
	}
	for _, c := range n.Content {
		sortMappings(c)
	}
}

// inlineUnboundAliases replaces every alias under top that would not bind,
// in the order the file is written, to the very node it aliased, with a copy
// of that node. Dropping the old remotes section can remove an anchor, and
// sorting the top-level keys can move an alias before its anchor or after
// another anchor of the same name; either would make the saved file mean
// something else or not load at all.
func inlineUnboundAliases(top *yaml.Node) {
	bound := map[string]*yaml.Node{} // anchor name → node it names at this point
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Anchor != "" {
			bound[n.Anchor] = n
		}
		for i, c := range n.Content {
			if c.Kind == yaml.AliasNode {
				if c.Alias == nil || bound[c.Value] != c.Alias {
					n.Content[i] = copyNode(c.Alias, 0)
				}
				continue
			}
			walk(c)
		}
	}
	walk(top)
}

// copyNode deep-copies n with aliases expanded and anchors removed (the
// YAML checks bound the expansion).
func copyNode(n *yaml.Node, depth int) *yaml.Node {
	if n == nil || depth > 200 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	if n.Kind == yaml.AliasNode {
		return copyNode(n.Alias, depth+1)
	}
	c := *n
	c.Anchor = ""
	c.Content = nil
	for _, ch := range n.Content {
		c.Content = append(c.Content, copyNode(ch, depth+1))
	}
	return &c
}

// writeFileAtomic replaces path with data: temp file created with O_EXCL in
// the same folder, written, fsynced, renamed over path, folder fsynced. A
// symlink or non-regular file at path is refused; an existing file's mode is kept.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if st, lerr := os.Lstat(path); lerr == nil {
		if st.Mode()&fs.ModeSymlink != 0 {
			return errcode.New(errcode.SymlinkNotAllowed, "%s is a symbolic link; refusing to replace it", path).
				WithHint("replace the link with a regular file")
		}
		if !st.Mode().IsRegular() {
			return errcode.New(errcode.LockfileInvalid, "%s is not a regular file", path)
		}
		perm = st.Mode().Perm()
	} else if !errors.Is(lerr, fs.ErrNotExist) {
		return errcode.Wrap(errcode.IOError, lerr, "cannot inspect %s", path)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "cannot create a temporary file in %s", dir)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return errcode.Wrap(errcode.IOError, err, "writing %s", name)
	}
	if err = tmp.Chmod(perm); err != nil {
		return errcode.Wrap(errcode.IOError, err, "setting mode of %s", name)
	}
	if err = tmp.Sync(); err != nil {
		return errcode.Wrap(errcode.IOError, err, "syncing %s", name)
	}
	if err = tmp.Close(); err != nil {
		return errcode.Wrap(errcode.IOError, err, "closing %s", name)
	}
	if err = os.Rename(name, path); err != nil {
		return errcode.Wrap(errcode.IOError, err, "replacing %s", path)
	}
	if d, derr := os.Open(dir); derr == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return errcode.Wrap(errcode.IOError, serr, "syncing folder %s", dir)
		}
	}
	return nil
}
