// Package yamlsafe reads untrusted YAML files defensively: it opens the last
// path component without following symlinks, bounds the size before reading,
// parses only the first document into a yaml.Node tree and refuses alias
// bombs, self-referencing anchors and deep nesting before anything is decoded.
package yamlsafe
