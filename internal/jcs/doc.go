// Package jcs parses JSON strictly and writes it in the canonical form of
// RFC 8785 (JSON Canonicalization Scheme). It owns the number policies used
// by evidence packs: the manifest policy accepts only whole numbers in
// 0..2^53-1 (in any JSON number form), the general policy accepts any finite
// number and formats it the way ECMAScript does.
package jcs
