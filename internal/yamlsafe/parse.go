package yamlsafe

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Limits bound what Parse accepts.
type Limits struct {
	// MaxDepth is the deepest allowed nesting of collections (default 100).
	MaxDepth int
	// MaxAliases is the largest allowed number of alias nodes (default 100).
	MaxAliases int
	// AliasesPerAnchor bounds aliases relative to anchors (default 10).
	AliasesPerAnchor int
	// MaxExpandedNodes bounds the node count with every alias expanded
	// (default 100000), which stops nested "billion laughs" documents that
	// stay within the alias counts.
	MaxExpandedNodes int
}

// DefaultLimits are the limits of COMPAT §1.13 (depth 100, aliases ≤ 100 and
// ≤ 10 × anchors) plus an expansion bound of 100000 nodes.
var DefaultLimits = Limits{MaxDepth: 100, MaxAliases: 100, AliasesPerAnchor: 10, MaxExpandedNodes: 100000}

// ErrUnsafe is wrapped by every error Parse returns for a document that is
// syntactically valid but breaks a limit (aliases, depth, expansion, cycles).
var ErrUnsafe = errors.New("unsafe YAML")

// Parse parses the first YAML document of data and checks it against lim
// (zero fields take the DefaultLimits value). It returns the document's root
// node (the content of the DocumentNode, with its comments), or nil for an
// empty document. Later documents are ignored.
func Parse(data []byte, lim Limits) (*yaml.Node, error) {
	lim = lim.withDefaults()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	if err := Check(&doc, lim); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	if root.HeadComment == "" {
		root.HeadComment = doc.HeadComment
	}
	if root.FootComment == "" {
		root.FootComment = doc.FootComment
	}
	return root, nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxAliases <= 0 {
		l.MaxAliases = DefaultLimits.MaxAliases
	}
	if l.AliasesPerAnchor <= 0 {
		l.AliasesPerAnchor = DefaultLimits.AliasesPerAnchor
	}
	if l.MaxExpandedNodes <= 0 {
		l.MaxExpandedNodes = DefaultLimits.MaxExpandedNodes
	}
	return l
}

// Check walks the tree under n (without following aliases) and enforces lim.
func Check(n *yaml.Node, lim Limits) error {
	lim = lim.withDefaults()
	c := checker{lim: lim, size: map[*yaml.Node]int{}, active: map[*yaml.Node]bool{}}
	if err := c.walk(n, 0); err != nil {
		return err
	}
	if c.aliases > lim.MaxAliases {
		return fmt.Errorf("%w: %d aliases (limit %d)", ErrUnsafe, c.aliases, lim.MaxAliases)
	}
	if c.aliases > lim.AliasesPerAnchor*c.anchors {
		return fmt.Errorf("%w: %d aliases for %d anchors (limit %d per anchor)", ErrUnsafe, c.aliases, c.anchors, lim.AliasesPerAnchor)
	}
	total, err := c.expanded(n)
	if err != nil {
		return err
	}
	if total > lim.MaxExpandedNodes {
		return fmt.Errorf("%w: aliases expand to more than %d nodes", ErrUnsafe, lim.MaxExpandedNodes)
	}
	return nil
}

type checker struct {
	lim              Limits
	anchors, aliases int
	size             map[*yaml.Node]int
	active           map[*yaml.Node]bool
}

func (c *checker) walk(n *yaml.Node, depth int) error {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		depth++
		if depth > c.lim.MaxDepth {
			return fmt.Errorf("%w: line %d: nesting deeper than %d levels", ErrUnsafe, n.Line, c.lim.MaxDepth)
		}
	}
	if n.Anchor != "" {
		c.anchors++
	}
	if n.Kind == yaml.AliasNode {
		c.aliases++
		if c.aliases > c.lim.MaxAliases {
			return fmt.Errorf("%w: more than %d aliases", ErrUnsafe, c.lim.MaxAliases)
		}
		return nil // never descend through an alias here
	}
	for _, ch := range n.Content {
		if err := c.walk(ch, depth); err != nil {
			return err
		}
	}
	return nil
}

// expanded returns the number of nodes under n with aliases expanded,
// memoised per node, refusing cycles (an anchor whose value refers to itself).
func (c *checker) expanded(n *yaml.Node) (int, error) {
	if n == nil {
		return 0, nil
	}
	if v, ok := c.size[n]; ok {
		return v, nil
	}
	if c.active[n] {
		return 0, fmt.Errorf("%w: line %d: anchor refers to itself", ErrUnsafe, n.Line)
	}
	c.active[n] = true
	defer delete(c.active, n)
	total := 1
	if n.Kind == yaml.AliasNode {
		v, err := c.expanded(n.Alias)
		if err != nil {
			return 0, err
		}
		total += v
	} else {
		for _, ch := range n.Content {
			v, err := c.expanded(ch)
			if err != nil {
				return 0, err
			}
			total += v
			if total > c.lim.MaxExpandedNodes {
				return 0, fmt.Errorf("%w: aliases expand to more than %d nodes", ErrUnsafe, c.lim.MaxExpandedNodes)
			}
		}
	}
	if total > c.lim.MaxExpandedNodes {
		return 0, fmt.Errorf("%w: aliases expand to more than %d nodes", ErrUnsafe, c.lim.MaxExpandedNodes)
	}
	c.size[n] = total
	return total, nil
}
